"""Writes the docs' pictures from the current code: ``python docs/pictures/make.py`` (from anywhere).

Each picture is what the command line writes (``python -m demo ... -o``), run here as a user runs it, on
the real model and media of ``../shared`` (beside the project) and on the project's own clip; the JPEGs
are encoded again at quality 85 to stay small. The commands are printed as they run.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml"
STREET = SHARED / "media" / "images" / "enox_street.png"  # 1441x731
ROOFTOP = SHARED / "media" / "pexels-cottonbro-studio-2795750-960x540-25fps.mp4"  # 217 frames, one man
ROOFTOP_FRAME = 108  # the middle one
SAMPLE_CLIP = ROOT / "assets" / "sample_clip.avi"  # 30 frames
SAMPLE_MODEL = ROOT / "assets" / "sample_model.xml"  # the offline sample the README starts with
JPEG_QUALITY = 85


def shown(word: str | Path) -> str:
    """A word of a command as the docs write it: ``python``, paths from the project's folder."""
    if word == sys.executable:
        return "python"
    if isinstance(word, Path) and word.is_relative_to(ROOT.parent):
        return os.path.relpath(word, ROOT)
    return str(word)


def run(*command: str | Path) -> None:
    """Runs a command from the project's folder; a failure ends the script in one line."""
    line = shlex.join(shown(word) for word in command)
    print("$", line, flush=True)
    done = subprocess.run([str(word) for word in command], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        sys.exit(f"error: `{line}` ended with exit code {done.returncode}: {last}")


def demo(*flags: str | Path) -> None:
    run(sys.executable, "-m", "demo", *flags, "--no_show", "--no_cache")


def as_jpeg(picture: Path, name: str) -> None:
    cv2.imwrite(str(HERE / name), cv2.imread(str(picture)), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])


def street(work: Path) -> None:
    """The README's first picture: YOLO11n-seg on a busy street, names on, boxes off, 1280 wide."""
    demo("-m", MODEL, "-i", STREET, "-o", work / "street.png", "--output_resolution", "1280x649")
    as_jpeg(work / "street.png", "street.jpg")


def rooftop_frame(work: Path) -> Path:
    """The middle frame of the rooftop clip, as a picture of its own."""
    capture = cv2.VideoCapture(str(ROOFTOP))
    capture.set(cv2.CAP_PROP_POS_FRAMES, ROOFTOP_FRAME)
    found, frame = capture.read()
    capture.release()
    if not found:
        sys.exit(f"error: {ROOFTOP} has no frame {ROOFTOP_FRAME}")
    path = work / "rooftop.png"
    cv2.imwrite(str(path), frame)
    return path


def modes(work: Path) -> None:
    """The background mode (the default green) and the privacy mode (people blurred) on one frame."""
    frame = rooftop_frame(work)
    for mode in ("background", "privacy"):
        demo("-m", MODEL, "-i", frame, "--mode", mode, "--classes", "person", "-o", work / f"{mode}.png")
        as_jpeg(work / f"{mode}.png", f"{mode}.jpg")


def blobs(work: Path) -> None:
    """The offline first run: the shipped sample model on the project's clip, its middle frame."""
    demo("-m", SAMPLE_MODEL, "-i", SAMPLE_CLIP, "-o", work / "out_%03d.png", "--show_scores")
    (HERE / "blobs.png").write_bytes((work / "out_015.png").read_bytes())


def main() -> None:
    if not (MODEL.is_file() and STREET.is_file() and ROOFTOP.is_file()):
        sys.exit(f"error: {SHARED} is missing (the real model and media beside the project): "
                 "the pictures cannot be made without it")
    with tempfile.TemporaryDirectory() as work:
        for make in (street, modes, blobs):
            make(Path(work))
    print(f"wrote {', '.join(sorted(path.name for path in HERE.iterdir() if path.suffix in ('.jpg', '.png')))}")


if __name__ == "__main__":
    main()
