"""The four-shape scene the colour-blob models know to the pixel, and the checks of a run on it at several sizes."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from helpers import synthetic
from helpers.results import decode_mask, iou, read_results
from helpers.running import run_demo
from helpers.synthetic import Shape

RED, GREEN, BLUE, YELLOW = (0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255)
FRAME_SIZES = [(1920, 1080), (640, 480), (480, 640)]


def scene_shapes(width: int, height: int, step: int = 0) -> list[Shape]:
    """Four shapes of the default detectors' colours, each a good fraction of the frame."""
    def at(fx: float, fy: float) -> tuple[int, int]:
        return int(fx * width) + step * width // 100, int(fy * height)

    return [
        Shape("rect", RED, (at(0.05, 0.08), at(0.40, 0.45))),
        Shape("ellipse", GREEN, (at(0.70, 0.28), (int(0.2 * width), int(0.18 * height))), angle=20),
        Shape("polygon", BLUE, (at(0.10, 0.95), at(0.25, 0.55), at(0.45, 0.92))),
        Shape("rect", YELLOW, (at(0.55, 0.60), at(0.90, 0.97))),
    ]


def expected_names() -> dict[tuple[int, int, int], str]:
    return {RED: "person", GREEN: "car", BLUE: "dog", YELLOW: "person"}


def box_tolerance(frame_size: tuple[int, int], input_size: tuple[int, int], policy: str) -> np.ndarray:
    """1.5 model-input pixels mapped to the frame, and never under 2 frame pixels."""
    scale = np.array(input_size, dtype=float) / np.array(frame_size, dtype=float)
    if policy == "fit":
        scale[:] = scale.min()
    per_axis = np.maximum(1.5 / scale, 2.0)
    return np.tile(per_axis, 2)


def check_frame(record: dict, truths: list[np.ndarray], shapes: list[Shape], tolerance: np.ndarray) -> None:
    found = record["instances"]
    assert len(found) == len(shapes), [i["name"] for i in found]
    for shape, truth in zip(shapes, truths):
        best = max(found, key=lambda instance: iou(decode_mask(instance), truth))
        assert iou(decode_mask(best), truth) >= 0.9
        assert best["name"] == expected_names()[shape.colour]
        error = np.abs(np.array(best["box"]) - np.array(synthetic.truth_box(truth)))
        assert np.all(error <= tolerance), (best["box"], synthetic.truth_box(truth), tolerance)


# The synthetic models that have a weaker copy of each blob: the blobs' scores and their copies' (0.8 of them).
SCORES_WITH_COPIES = sorted([0.95, 0.9, 0.85, 0.8] + [0.8 * s for s in (0.95, 0.9, 0.85, 0.8)], reverse=True)


def write_scene(path: Path, width: int, height: int) -> None:
    frame, _ = synthetic.draw_scene(width, height, scene_shapes(width, height))
    cv2.imwrite(str(path), frame)


def check_each_scene_size(model: Path, tmp_path: Path, resize: str, network: tuple[int, int],
                          tolerance_policy: str) -> None:
    """The demo on a folder holding the scene at each of FRAME_SIZES: it says it resizes by ``resize``,
    gives one result per image, and finds each shape once, within the box tolerance of that resize."""
    folder = tmp_path / "images"
    folder.mkdir()
    for number, (width, height) in enumerate(FRAME_SIZES):
        write_scene(folder / f"{number}.png", width, height)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", model, "-i", folder, "--no_show", "--results", results, "--no_cache")

    assert run.returncode == 0, run.stderr
    assert f"resize {resize}" in run.stderr
    records = read_results(results)
    assert len(records) == len(FRAME_SIZES)
    for record in records:
        size = FRAME_SIZES[record["frame"]]
        shapes = scene_shapes(*size)
        _, truths = synthetic.draw_scene(*size, shapes)
        check_frame(record, truths, shapes, box_tolerance(size, network, tolerance_policy))


def scores_on_a_scene(model: Path, tmp_path: Path, *flags: str) -> list[float]:
    """The scores of what the demo finds in the 640x480 scene with ``flags``, best first."""
    write_scene(tmp_path / "scene.png", 640, 480)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", model, "-i", tmp_path / "scene.png", "--no_show", "--results", results, "--no_cache",
                   *flags)

    assert run.returncode == 0, run.stderr
    return sorted((i["score"] for i in read_results(results)[0]["instances"]), reverse=True)
