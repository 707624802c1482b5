"""Hostile files, names and pictures (issue 24), through ``python -m demo`` on files the tests make: memory
bounded whatever the input, special files refused in one line, pictures upright, damaged files named,
non-finite model outputs dropped. A failing run leaves every file that was there byte-for-byte."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from PIL import Image

import synthetic
from conftest import ROOT, DemoRun, decode_mask, iou, one_error_line, read_results, run_demo
from demo import open_source

MB = 2**20
HUGE_SIDE = 16000  # 16000x16000: 768 MB decoded as BGR, a few hundred KB as a one-colour PNG
RED_SHAPE = synthetic.Shape.rect((0, 0, 255), 20, 30, 140, 110)  # the synthetic models' "person"
EXIF_ORIENTATION = 0x0112
ROTATED_CLOCKWISE = 6  # the camera was turned: the stored picture is shown turned 90 degrees clockwise


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def run_measured(*args: str | Path, timeout: float = 300) -> tuple[DemoRun, int]:
    """``python -m demo ARGS`` as run_demo runs it, and the peak resident memory of that process, in bytes."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT, stdout=out,
                                   stderr=err, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + timeout
        # wait4, unlike the usage of all children together, tells this child's peak alone.
        while (reaped := os.wait4(process.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                pytest.fail(f"python -m demo {args} still ran after {timeout} s")
            time.sleep(0.1)
        _, status, usage = reaped
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return DemoRun(process.returncode, out.read().decode(), err.read().decode()), usage.ru_maxrss * 1024


def one_colour_png(path: Path, width: int, height: int) -> Path:
    """A black gray-scale PNG compressed row by row, so that making it never holds the picture."""
    compressor = zlib.compressobj()
    row = bytes(width + 1)  # the filter byte, then the pixels
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def test_a_huge_picture_is_refused_from_its_header_without_decoding_it(models, tmp_path):
    huge = one_colour_png(tmp_path / "huge.png", HUGE_SIDE, HUGE_SIDE)
    before = snapshot(tmp_path)

    run, peak = run_measured("-m", models["person-0007"].xml, "-i", huge, "--no_show", "--no_cache",
                             "-o", tmp_path / "out.png")

    assert run.returncode == 1
    assert one_error_line(run.stderr) == (f"error: input '{huge}': 16000x16000 is 256,000,000 pixels, more than "
                                          "the 134,217,728 allowed (--max_image_pixels raises the limit)")
    assert peak < 3 * HUGE_SIDE**2 / 2  # decoding takes 768 MB for the BGR picture alone
    assert snapshot(tmp_path) == before


def test_a_huge_picture_in_a_folder_is_skipped_by_name_and_the_others_are_read(models, tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    huge = one_colour_png(folder / "a_huge.png", HUGE_SIDE, HUGE_SIDE)
    cv2.imwrite(str(folder / "b_scene.png"), synthetic.draw_scene(160, 120, [RED_SHAPE])[0])
    results = tmp_path / "results.jsonl"

    run, peak = run_measured("-m", models["person-0007"].xml, "-i", folder, "--no_show", "--no_cache",
                             "--results", results)

    assert run.returncode == 0, run.stderr
    assert f"[WARNING] skipping '{huge}': 16000x16000 is 256,000,000 pixels" in run.stderr
    assert [len(record["instances"]) for record in read_results(results)] == [1]
    assert peak < 3 * HUGE_SIDE**2 / 2


@pytest.mark.parametrize("limit, refused", [(3072, False), (3071, True)])
def test_max_image_pixels_sets_the_limit(models, tmp_path, limit, refused):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])  # 3072 pixels

    run = run_demo("-m", models["person-0007"].xml, "-i", image, "--no_show", "--no_cache",
                   "--max_image_pixels", limit)

    assert run.returncode == (1 if refused else 0), run.stderr
    if refused:
        assert one_error_line(run.stderr) == (f"error: input '{image}': 64x48 is 3,072 pixels, more than the 3,071 "
                                              "allowed (--max_image_pixels raises the limit)")


@pytest.mark.parametrize("value", ["0", str(2**30 + 1), "many"])
def test_max_image_pixels_out_of_range_is_one_line(models, value):
    run = run_demo("-m", models["person-0007"].xml, "--max_image_pixels", value, "--no_show")
    assert run.returncode == 2
    assert "--max_image_pixels" in one_error_line(run.stderr)
