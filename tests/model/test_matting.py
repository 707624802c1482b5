"""A single-output matting model (MODNet as Open Model Zoo converts it) in ``--mode background``.

The synthetic matte is a known linear ramp, so the composite is known at every pixel: the
frame and the replacement blended by the ramp sampled at that pixel, with no threshold,
no median and no edge.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest
from helpers import synthetic
from helpers.results import read_results
from helpers.running import run_demo

from demo.model.contracts import MattingContract, recognise

FRAME_COLOUR = (200, 100, 50)
GREEN = (0, 255, 0)
# app.run prints FPS and latency in the top-left corner of every written frame.
STATUS_AREA = (slice(0, 70), slice(0, 300))


def expected_composite(width: int, height: int, plane_hw: tuple[int, int], top_half: bool = False) -> np.ndarray:
    """The frame over the green field, blended by the ramp at each pixel, for a frame stretched over
    ``plane_hw`` cells of the 256x256 ramp (``top_half``: its top cells, the rest is padding)."""
    rows, columns = plane_hw

    def along(count: int, cells: int, limit: int) -> np.ndarray:
        # Pixel centres on the plane, continued flat beyond the first and last cell centres.
        position = np.clip((np.arange(count) + 0.5) * cells / count, 0.5, limit - 0.5)
        return position / 256 / 2

    ramp = along(width, columns, 256) + along(height, rows, 256 if top_half else rows)[:, None]
    opacity = np.rint(ramp * 255)[..., None]
    mixed = np.float64(FRAME_COLOUR) * opacity + np.float64(GREEN) * (255 - opacity) + 127
    return (mixed // 255).astype(np.uint8)


@pytest.fixture(scope="module")
def matting_model(tmp_path_factory) -> Path:
    return synthetic.build_matting_model(tmp_path_factory.mktemp("matting") / "modnet.xml", (512, 512), (256, 256))


def test_recognised_as_a_matting_model(matting_model):
    contract = recognise(ov.Core().read_model(matting_model), "modnet")

    assert isinstance(contract, MattingContract) and contract.plane_stride == (2.0, 2.0)


@pytest.mark.parametrize(("width", "height", "policy"), [(640, 480, "stretch"), (300, 700, "stretch"),
                                                     (512, 256, "fit")])
def test_the_matte_is_the_soft_mask_of_the_composite_pixel_by_pixel(matting_model, tmp_path, width, height, policy):
    frame = np.full((height, width, 3), FRAME_COLOUR, np.uint8)
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", matting_model, "-i", tmp_path / "frame.png", "--mode", "background", "--no_show",
                   "--no_cache", "-o", tmp_path / "out.png", "--results", results, "--resize_type", policy)

    assert run.returncode == 0, run.stderr
    composite = cv2.imread(str(tmp_path / "out.png"))
    # "fit" puts a 512x256 frame on the top half of the 512x512 input: the top half of the plane.
    plane = (256, 256) if policy == "stretch" else (128, 256)
    error = np.abs(composite.astype(int) - expected_composite(width, height, plane, policy == "fit"))
    error[STATUS_AREA] = 0
    assert error.max() <= 1, np.unravel_index(error.argmax(), error.shape)
    assert len(np.unique(composite[100:, :, 1])) > 100  # a soft ramp, not a cut
    (person,) = read_results(results)[0]["instances"]
    assert person["name"] == "person" and person["score"] == 1.0


def test_in_instance_mode_a_matting_model_is_one_line(matting_model, tmp_path):
    cv2.imwrite(str(tmp_path / "frame.png"), np.zeros((48, 64, 3), np.uint8))

    run = run_demo("-m", matting_model, "-i", tmp_path / "frame.png", "--no_show", "--no_cache")

    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(errors) == 1 and "a matting model: use --mode background" in errors[0], run.stderr


def test_a_matte_of_another_aspect_ratio_is_refused(tmp_path):
    model = synthetic.build_matting_model(tmp_path / "m.xml", (512, 512), (256, 128))
    cv2.imwrite(str(tmp_path / "frame.png"), np.zeros((48, 64, 3), np.uint8))

    run = run_demo("-m", model, "-i", tmp_path / "frame.png", "--mode", "background", "--no_show", "--no_cache")

    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 1 and len(errors) == 1 and "the alpha output [1,1,256,128]" in errors[0], run.stderr
