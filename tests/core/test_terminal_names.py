"""File names as the terminal gets them from ``python -m demo``: escape sequences and control characters
escaped, never sent raw; and a non-ASCII name under an ASCII locale one line with escapes, not a traceback."""
from __future__ import annotations

import os

import cv2
import pytest
from helpers import synthetic
from helpers.results import read_results
from helpers.running import one_error_line, run_demo

from demo.core.names import shown

# A title change, a bell, red text, a screen clear, a line break, a right-to-left override.
HOSTILE = "clip\x1b]0;pwned\x07\x1b[31m\x1b[2J\r\n\u202egnp."
HOSTILE_SHOWN = r"clip\x1b]0;pwned\x07\x1b[31m\x1b[2J\x0d\x0a\u202egnp."
# Without UTF-8 mode, which Python turns on by itself under LC_ALL=C, the streams and file names are ASCII.
ASCII_LOCALE = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


@pytest.mark.parametrize(("name", "printed"), [
    (HOSTILE, HOSTILE_SHOWN),
    ("caf\u00e9 \u65e5\u672c.png", "caf\u00e9 \u65e5\u672c.png"),  # printable: as it is
    ("del\x7f csi\x9b nul-less", r"del\x7f csi\x9b nul-less"),
    (os.fsdecode(b"bad\xff.png"), r"bad\xff.png"),  # bytes that are not UTF-8
])
def test_names_are_shown_with_what_does_not_print_escaped(name, printed):
    assert shown(name) == printed


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return synthetic.person_0007_like(tmp_path_factory.mktemp("model") / "blobs.xml", synthetic.DEFAULT_DETECTORS)


def no_control_characters(text: str) -> bool:
    return not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0 or c == "\u202e" for c in text)


@pytest.mark.slow
def test_a_missing_input_with_escape_sequences_is_named_escaped(model, tmp_path):
    run = run_demo("-m", model, "-i", tmp_path / (HOSTILE + "png"), "--no_show")
    assert run.returncode == 1
    assert one_error_line(run.stderr) == f"error: input '{tmp_path}/{HOSTILE_SHOWN}png' does not exist"
    assert no_control_characters(run.stderr)


@pytest.mark.slow
def test_a_skipped_image_and_a_corrupt_video_with_escape_sequences_are_named_escaped(model, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "good.png"), synthetic.draw_scene(160, 120, [])[0])
    (photos / (HOSTILE + "png")).write_bytes(b"not a picture")
    run = run_demo("-m", model, "-i", photos, "--no_show")
    assert run.returncode == 0, run.stderr
    assert f"skipping '{photos}/{HOSTILE_SHOWN}png'" in run.stderr
    broken = tmp_path / (HOSTILE + "mp4")
    broken.write_bytes(b"\0" * 4096)
    failed = run_demo("-m", model, "-i", broken, "--no_show")
    assert failed.returncode == 1
    assert f"'{tmp_path}/{HOSTILE_SHOWN}mp4'" in one_error_line(failed.stderr)
    assert no_control_characters(run.stderr + failed.stderr)


@pytest.mark.slow
def test_non_ascii_names_under_an_ascii_locale_run_and_fail_in_one_line(model, tmp_path):
    picture = tmp_path / "h\u00e9llo.png"
    cv2.imwrite(str(picture), synthetic.draw_scene(160, 120, [])[0])
    written, results = tmp_path / "out_\u00e9.png", tmp_path / "r\u00e9sults.jsonl"
    run = run_demo("-m", model, "-i", picture, "-o", written, "--results", results, "--no_show", env=ASCII_LOCALE)
    assert run.returncode == 0, run.stderr
    assert written.is_file() and len(read_results(results)) == 1
    missing = run_demo("-m", model, "-i", tmp_path / "n\u00f6pe.png", "--no_show", env=ASCII_LOCALE)
    assert missing.returncode == 1
    assert one_error_line(missing.stderr) == f"error: input '{tmp_path}/n\\xf6pe.png' does not exist"
