"""Hostile files, names and pictures (issue 24), through ``python -m demo`` on files the tests make: memory
bounded whatever the input, special files refused in one line, pictures upright, damaged files named,
non-finite model outputs dropped. A failing run leaves every file that was there byte-for-byte."""
from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from helpers import synthetic
from helpers.results import decode_mask, iou, read_results
from helpers.running import ROOT, DemoRun, one_error_line, run_demo
from PIL import Image

from demo import open_source
from demo.model.contracts import DecodeLimits, YolactContract, YoloSegContract

MB = 2**20
HUGE_SIDE = 16000  # 16000x16000: 768 MB decoded as BGR, a few hundred KB as a one-colour PNG
RED_SHAPE = synthetic.Shape.rect((0, 0, 255), 20, 30, 140, 110)  # the synthetic models' "person"
EXIF_ORIENTATION = 0x0112
ROTATED_CLOCKWISE = 6  # the camera was turned: the stored picture is shown turned 90 degrees clockwise


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


# Starts the demo and reports its peak resident memory. The kernel counts in a child's peak the memory of the
# process it was forked from, up to its exec: forked from pytest (near 1 GB late in a full run), the demo's own
# peak would be hidden; forked from this small starter, it is the demo's.
PEAK_STARTER = """
import os, sys
pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "demo", *sys.argv[2:]], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as peak:
    peak.write(str(usage.ru_maxrss * 1024))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(*args: str | Path, timeout: float = 300) -> tuple[DemoRun, int]:
    """``python -m demo ARGS`` as run_demo runs it, and the peak resident memory of that process, in bytes."""
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder, "peak")
        command = [sys.executable, "-S", "-c", PEAK_STARTER, str(peak), *map(str, args)]
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True) as process:
            try:
                out, err = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the starter and the demo
                pytest.fail(f"python -m demo {args} still ran after {timeout} s")
        return DemoRun(process.returncode, out, err), int(peak.read_text())


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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_sixty_listed_photos_take_about_the_memory_of_the_same_photos_as_a_folder(models, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    count, size = 60, (2400, 1800)
    for number in range(count):
        shape = synthetic.Shape.rect((0, 0, 255), 100 + 10 * number, 200, 900, 1500)
        cv2.imwrite(str(folder / f"photo_{number:02d}.jpg"), synthetic.draw_scene(*size, [shape])[0])
    listing = tmp_path / "photos.txt"
    listing.write_text("".join(f"photos/photo_{number:02d}.jpg\n" for number in range(count)))
    all_decoded = count * size[0] * size[1] * 3  # 778 MB

    as_folder, folder_peak = run_measured("-m", models["person-0007"].xml, "-i", folder, "--no_show", "--no_cache")
    as_list, list_peak = run_measured("-m", models["person-0007"].xml, "-i", f"@{listing}", "--no_show",
                                      "--no_cache")

    assert as_folder.returncode == 0 and as_list.returncode == 0, as_folder.stderr + as_list.stderr
    assert f"all {count} sources: frames: {count}," in as_list.stderr
    # Every photo decoded at once took 900 MB more than the folder; now a few frames ahead are held.
    assert list_peak < folder_peak + all_decoded / 2, (folder_peak / MB, list_peak / MB)


def special_files(tmp_path: Path) -> dict[str, Path]:
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)  # nobody writes: opening it to read would wait for ever
    return {"pipe": pipe, "device": Path("/dev/zero")}  # /dev/zero reads for ever


@pytest.mark.parametrize("special, kind", [("pipe", "a named pipe"), ("device", "a character device")])
@pytest.mark.parametrize("flag, what", [("--labels", "labels file"), ("-i", "list of inputs")])
def test_a_pipe_or_device_as_a_text_file_is_refused_at_once(models, tmp_path, special, kind, flag, what):
    path = special_files(tmp_path)[special]
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])
    before = snapshot(tmp_path)
    value = f"@{path}" if flag == "-i" else path

    # A read that waited for a writer or for the end of /dev/zero would outlast the time-out and fail here.
    run = run_demo("-m", models["person-0007"].xml, "-i", image, flag, value, "--no_show", "--no_cache",
                   timeout=120)

    assert run.returncode == 1
    assert one_error_line(run.stderr) == f"error: {what} {path} is {kind}, not a regular file"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("special, kind", [("pipe", "a named pipe"), ("device", "a character device")])
def test_a_pipe_or_device_as_the_model_says_what_it_is(tmp_path, special, kind):
    path = special_files(tmp_path)[special]
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])

    run = run_demo("-m", path, "-i", image, "--no_show", "--no_cache", timeout=120)

    assert run.returncode == 1
    assert one_error_line(run.stderr) == f"error: model {path} is {kind}, not a model file"


@pytest.mark.slow
def test_a_weights_file_that_is_a_pipe_says_so(models, tmp_path):
    xml = tmp_path / "model.xml"
    xml.write_bytes(models["person-0007"].xml.read_bytes())
    os.mkfifo(tmp_path / "model.bin")
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])

    run = run_demo("-m", xml, "-i", image, "--no_show", "--no_cache", timeout=120)

    assert run.returncode == 1
    assert one_error_line(run.stderr) == (f"error: {xml}: its weights file model.bin is a named pipe, not a file "
                                          "of weights")


def portrait_photo(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A phone's portrait photo: stored 320x240 on its side, with EXIF orientation 6 to show it 240x320 upright.
    Returns the upright picture and where the red shape is in it."""
    upright, (person,) = synthetic.draw_scene(240, 320, [RED_SHAPE])
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # the display turns it clockwise
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATED_CLOCKWISE
    Image.fromarray(cv2.cvtColor(stored, cv2.COLOR_BGR2RGB)).save(path, "JPEG", quality=95, exif=exif.tobytes())
    return upright, person


@pytest.mark.slow
@pytest.mark.parametrize("form", ["image", "folder", "pattern"])
def test_a_portrait_photo_is_segmented_upright_and_written_at_its_upright_size(models, tmp_path, form):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "photo_000.jpg"
    upright, person = portrait_photo(photo)
    spec = {"image": photo, "folder": folder, "pattern": folder / "photo_%03d.jpg"}[form]
    results = tmp_path / "results.jsonl"
    before = snapshot(folder)

    run = run_demo("-m", models["person-0007"].xml, "-i", spec, "--no_show", "--no_cache", "--results", results,
                   "-o", tmp_path / "out_%03d.png")

    assert run.returncode == 0, run.stderr
    assert cv2.imread(str(tmp_path / "out_000.png")).shape == upright.shape  # 320 high, 240 wide
    (record,) = read_results(results)
    (instance,) = record["instances"]
    assert instance["name"] == "person"
    assert iou(decode_mask(instance), person) > 0.9
    assert snapshot(folder) == before


@pytest.mark.parametrize("form", ["image", "folder", "pattern"])
def test_the_api_reads_a_portrait_photo_upright(tmp_path, form):
    photo = tmp_path / "photo_000.jpg"
    upright, _ = portrait_photo(photo)
    spec = {"image": photo, "folder": tmp_path, "pattern": tmp_path / "photo_%03d.jpg"}[form]

    with open_source(str(spec)) as source:
        (frame,) = list(source)

    assert frame.image.shape == upright.shape
    assert np.abs(frame.image.astype(int) - upright).mean() < 3  # JPEG's loss only


@pytest.mark.slow
def test_a_truncated_jpeg_is_read_with_a_warning_naming_it(models, tmp_path):
    scene, _ = synthetic.draw_scene(640, 480, [RED_SHAPE])
    whole = cv2.imencode(".jpg", scene)[1].tobytes()
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(whole[:len(whole) * 2 // 3])
    before = snapshot(tmp_path)

    run = run_demo("-m", models["person-0007"].xml, "-i", truncated, "--no_show", "--no_cache",
                   "-o", tmp_path / "out.png")

    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("[WARNING]")]
    assert warnings == [f"[WARNING] image '{truncated}' is damaged or truncated: only what could be decoded of it "
                        "is used"]
    assert cv2.imread(str(tmp_path / "out.png")).shape == scene.shape
    assert {path: data for path, data in snapshot(tmp_path).items() if path in before} == before


def nan_class_model(folder: Path) -> Path:
    """The synthetic YOLO26-seg (end-to-end head) whose first and third rows, red and blue, have NaN class ids."""
    built = synthetic.build_yolo_end2end_seg_model(folder / "clean.xml", synthetic.DEFAULT_DETECTORS)
    model = ov.Core().read_model(built)
    result = model.output(0).get_node()
    table = result.input_value(0)
    poison = np.zeros(table.get_shape(), np.float32)
    poison[0, [0, 2], 5] = np.nan  # NaN + x is NaN; 0 + x is x
    result.input(0).replace_source_output(ops.add(table, ops.constant(poison)).output(0))
    path = folder / "nan_classes.xml"
    ov.save_model(model, path, compress_to_fp16=False)
    return path


@pytest.mark.slow
def test_nan_class_ids_give_no_instance_and_one_warning(tmp_path):
    model = nan_class_model(tmp_path)
    shapes = [synthetic.Shape.rect(detector.colour, 40 + 130 * n, 60, 150 + 130 * n, 300)
              for n, detector in enumerate(synthetic.DEFAULT_DETECTORS)]
    frame, masks = synthetic.draw_scene(640, 480, shapes)
    folder = tmp_path / "frames"
    folder.mkdir()
    for number in range(3):
        cv2.imwrite(str(folder / f"{number}.png"), frame)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", model, "-i", folder, "--no_show", "--no_cache", "--results", results)

    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("[WARNING]")]
    assert warnings == ["[WARNING] the model gave NaN or infinite values: the detections holding them are dropped "
                        "(said once per run)"]
    assert "RuntimeWarning" not in run.stderr
    for record in read_results(results):  # green (car) and yellow (person) only, where they are
        found = sorted(record["instances"], key=lambda instance: instance["box"][0])
        assert [instance["name"] for instance in found] == ["car", "person"]
        assert [iou(decode_mask(instance), masks[n]) > 0.9 for instance, n in zip(found, (1, 3))] == [True, True]


def test_yolo_and_yolact_decoding_drop_every_non_finite_candidate():
    """Four candidates each: one sound, one with a NaN box, one with an infinite score, one with a NaN mask
    coefficient. Only the sound one is left, and NumPy never warns of a cast."""
    sound, plane = [10, 10, 20, 20], np.ones((2, 16, 16), np.float32)
    #                    box          score  coefficients
    yolo_rows = np.array([[32, 32, 20, 20, 0.9, 1, 1],
                          [np.nan, 32, 20, 20, 0.9, 1, 1],
                          [32, 32, 20, 20, np.inf, 1, 1],
                          [32, 32, 20, 20, 0.9, np.nan, 1]], np.float32)
    yolo = YoloSegContract(0, 1, 1, False, (64, 64), (4.0, 4.0))
    yolact = YolactContract(0, 1, 2, 3, True, (64, 64), (4.0, 4.0))
    boxes = np.array([sound, [np.nan, 10, 20, 20], sound, sound], np.float32) / 64
    conf = np.array([[0.1, 0.9], [0.1, 0.9], [0.1, np.inf], [0.1, 0.9]], np.float32)
    coefficients = np.array([[1, 1], [1, 1], [1, 1], [np.nan, 1]], np.float32)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_yolo = yolo.decode([yolo_rows.T[np.newaxis], plane[np.newaxis]], DecodeLimits(0.5))
        from_yolact = yolact.decode([boxes[np.newaxis], conf[np.newaxis], coefficients[np.newaxis],
                                     plane.transpose(1, 2, 0)[np.newaxis]], DecodeLimits(0.5))

    assert len(from_yolo) == 1 and np.allclose(from_yolo.boxes, [[22, 22, 42, 42]])
    assert len(from_yolact) == 1 and np.allclose(from_yolact.boxes, [sound])
