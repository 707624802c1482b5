"""Shared fixtures: synthetic models of each contract, and running the demo as a user does."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import synthetic
from pycocotools import mask as mask_utils

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class ModelCase:
    name: str
    xml: Path
    input_size: tuple[int, int]  # (w, h)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, ModelCase]:
    folder = tmp_path_factory.mktemp("models")
    return {
        "security-0091": ModelCase("security-0091", synthetic.security_0091_like(
            folder / "security.xml", synthetic.DEFAULT_DETECTORS), (1344, 800)),
        "person-0007": ModelCase("person-0007", synthetic.person_0007_like(
            folder / "person.xml", synthetic.DEFAULT_DETECTORS), (544, 320)),
        "two-input": ModelCase("two-input", synthetic.build_two_input_model(
            folder / "two_input.xml", synthetic.DEFAULT_DETECTORS), (640, 480)),
    }


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str


def run_demo(*args: str | Path, timeout: float = 300, env: dict | None = None) -> DemoRun:
    """``python -m demo ARGS`` from the project root, headless, with a throwaway model cache."""
    command = [sys.executable, "-m", "demo", *map(str, args)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env)
    return DemoRun(done.returncode, done.stdout, done.stderr)


def start_demo(*args: str | Path) -> subprocess.Popen:
    """``python -m demo ARGS`` left running, its output unbuffered, for a test that stops it or reads it live."""
    return subprocess.Popen([sys.executable, "-m", "demo", *map(str, args)], cwd=ROOT, text=True, bufsize=1,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})


def wait_until(done: Callable[[], bool], timeout: float = 120) -> bool:
    """Whether ``done()`` came true within ``timeout`` seconds, asked five times a second."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def one_error_line(stderr: str) -> str:
    """The one line a failed run says (besides [INFO] lines), checked to be an error line."""
    lines = [line for line in stderr.splitlines() if not line.startswith("[INFO]")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def read_results(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def decode_mask(instance: dict) -> np.ndarray:
    rle = {"size": instance["mask"]["size"], "counts": instance["mask"]["counts"].encode()}
    return mask_utils.decode(rle).astype(bool)


def count_frames(path: Path) -> int:
    """How many frames a player decodes from a video file."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def lines_written(path: Path) -> int:
    """How many lines a run has written to ``path`` so far. Until the run ends they are in a hidden
    file beside it (.NAME.XXXXXXXX.EXT), which is put in place when the run ends."""
    for candidate in [path, *path.parent.glob(f".{path.name}.*{path.suffix}")]:
        with contextlib.suppress(FileNotFoundError):
            return len(candidate.read_text().splitlines())
    return 0
