"""``--mode background``: people kept to the pixel, everything else replaced, on drawn scenes."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.background_scene import FULL_HD, STATUS_AREA, VGA, halo_free_blur, scene
from helpers.results import decode_mask, read_results
from helpers.running import run_demo

from demo.picture.background import BackgroundComposer, EdgeStyle, StillReplacement, merge_overlapping
from demo.results.instances import Box, FrameResult, Instance
from demo.results.masks import BoxMask, Region

RED, GREEN, BLUE, YELLOW = (0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255)
# With the defaults (--median 5, --alpha_edge 3) the output differs from a hard cut along the
# mask only within 5 // 2 + 3 // 2 pixels of its edge.
DEFAULT_REACH = 3
# person-0007's 224x224 masks, pasted from a 544x320 input, land within this many pixels of a
# drawn edge (measured: at 1920x1080 one input pixel is 3.5 frame pixels).
MODEL_MASK_ERROR = {FULL_HD: 3, VGA: 1}


def stretched(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The documented resize: area averaging when the frame has fewer pixels, else bilinear."""
    shrinking = picture.shape[0] * picture.shape[1] > size[0] * size[1]
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def noise(size: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def run_background(tmp_path: Path, model_xml: Path, frames: list[np.ndarray], *flags: str | Path
                   ) -> tuple[list[np.ndarray], list[dict], str]:
    """The frames through ``--mode background`` as a folder of PNGs; the PNGs written, the
    results records and stdout."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for number, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{number:02d}.png"), frame)
    results = tmp_path / "results.jsonl"
    run = run_demo("-m", model_xml, "-i", folder, "--mode", "background", "--no_show", "--no_cache",
                   "--results", results, "-o", tmp_path / "out_%02d.png", *flags)
    assert run.returncode == 0, run.stderr
    written = [cv2.imread(str(tmp_path / f"out_{number:02d}.png")) for number in range(len(frames))]
    return written, read_results(results), run.stdout


def reported_people(record: dict, shape: tuple[int, ...]) -> np.ndarray:
    union = np.zeros(shape[:2], dtype=bool)
    for instance in record["instances"]:
        if instance["name"] == "person":
            union |= decode_mask(instance)
    return union


def check_composed(output: np.ndarray, frame: np.ndarray, replacement: np.ndarray, kept: np.ndarray,
                   band: int) -> None:
    """Pixels of ``kept`` more than ``band`` px inside its edge are the frame's; pixels more
    than ``band`` px outside it are the replacement's (square neighbourhoods, status text aside)."""
    assert output.shape == frame.shape
    square = np.ones((2 * band + 1, 2 * band + 1), dtype=np.uint8)
    checked = np.ones(kept.shape, dtype=bool)
    checked[STATUS_AREA] = False
    inside = cv2.erode(kept.view(np.uint8), square).astype(bool) & checked
    outside = ~cv2.dilate(kept.view(np.uint8), square).astype(bool) & checked
    assert inside.any() and outside.any()
    changed_person = np.count_nonzero((output != frame).any(axis=2) & inside)
    wrong_background = np.count_nonzero((output != replacement).any(axis=2) & outside)
    assert (changed_person, wrong_background) == (0, 0), f"of {inside.sum()} and {outside.sum()} pixels"


def check_people_kept(output: np.ndarray, frame: np.ndarray, replacement: np.ndarray, record: dict,
                      drawn_people: np.ndarray) -> None:
    """Exact against the masks the demo reported, and within the model's error of the drawn people."""
    size = (frame.shape[1], frame.shape[0])
    check_composed(output, frame, replacement, reported_people(record, frame.shape), DEFAULT_REACH)
    check_composed(output, frame, replacement, drawn_people, DEFAULT_REACH + MODEL_MASK_ERROR[size])


def test_colour_keeps_people_replaces_the_rest_and_leaves_empty_frames(models, tmp_path):
    scenes = [scene(FULL_HD), scene(VGA)]
    empty_frame, _ = scene(VGA, people=False)
    written, records, stdout = run_background(tmp_path, models["person-0007"].xml,
                                              [*(frame for frame, _ in scenes), empty_frame], "-r")

    assert [record["frame"] for record in records] == [0, 1, 2]
    for (frame, people), output, record in zip(scenes, written, records):
        green_field = np.full_like(frame, (0, 255, 0))
        check_people_kept(output, frame, green_field, record, people)
        # The alpha edge: some pixels along the people's outline are a mix of both.
        mixed = (output != frame).any(axis=2) & (output != green_field).any(axis=2)
        assert mixed.any()
    empty_output = written[2].copy()
    empty_output[STATUS_AREA] = empty_frame[STATUS_AREA]
    np.testing.assert_array_equal(empty_output, empty_frame)  # --empty original, the default
    assert "frame 2: 2 instances" in stdout and stdout.count(" person ") == 4


def test_image_is_stretched_to_each_frame_size_and_fills_empty_frames(models, tmp_path):
    image = noise((800, 600), seed=1)
    cv2.imwrite(str(tmp_path / "beach.png"), image)
    scenes = [scene(FULL_HD), scene(VGA)]
    empty_frame, _ = scene(VGA, people=False)
    written, records, _ = run_background(tmp_path, models["person-0007"].xml,
                                         [*(frame for frame, _ in scenes), empty_frame],
                                         "--target_bgr", tmp_path / "beach.png", "--empty", "background")

    for (frame, people), output, record in zip(scenes, written, records):
        check_people_kept(output, frame, stretched(image, frame.shape[1::-1]), record, people)
    empty_output = written[2].copy()
    expected = stretched(image, VGA)
    empty_output[STATUS_AREA] = expected[STATUS_AREA]
    np.testing.assert_array_equal(empty_output, expected)


@pytest.mark.slow
def test_short_video_loops_in_step_with_frames_in_flight(models, tmp_path):
    clip = [noise((320, 240), seed) for seed in range(3)]
    video = synthetic.write_ffv1_video(tmp_path / "waves.mkv", clip)
    scenes = [scene(size) for size in (FULL_HD, VGA, VGA, FULL_HD, VGA)]
    written, records, _ = run_background(tmp_path, models["person-0007"].xml, [frame for frame, _ in scenes],
                                         "--target_bgr", video, "-nireq", "3")

    assert [record["frame"] for record in records] == list(range(5))
    for number, ((frame, people), output, record) in enumerate(zip(scenes, written, records)):
        replacement = stretched(clip[number % len(clip)], frame.shape[1::-1])
        check_people_kept(output, frame, replacement, record, people)


@pytest.mark.slow
def test_blur_side_by_side_with_the_original(models, tmp_path):
    scenes = [scene(FULL_HD), scene(VGA)]
    written, records, _ = run_background(tmp_path, models["person-0007"].xml, [frame for frame, _ in scenes],
                                         "--blur_bgr", "15", "--show_with_original_frame")

    for (frame, people), output, record in zip(scenes, written, records):
        height, width = frame.shape[:2]
        assert output.shape == (height, 2 * width, 3)
        original, composed = output[:, :width].copy(), output[:, width:]
        original[STATUS_AREA] = frame[STATUS_AREA]
        np.testing.assert_array_equal(original, frame)
        # The frame box-blurred (reflected border) with the people left out, then put back over it.
        alpha = EdgeStyle().alpha(reported_people(record, frame.shape).view(np.uint8) * 255)
        check_people_kept(composed, frame, halo_free_blur(frame, alpha, 15), record, people)


def test_person_is_found_by_name_in_the_labels(models, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("pedestrian\nbicycle\nperson\n")  # the green blob's class 2 is "person" here
    frame, red_and_yellow = scene(VGA)
    green = (frame == GREEN).all(axis=2)
    written, records, _ = run_background(tmp_path, models["security-0091"].xml, [frame], "--labels", labels,
                                         "--target_color", "40,40,40", "--median", "1", "--alpha_edge", "1")

    kept = reported_people(records[0], frame.shape)
    check_composed(written[0], frame, np.full_like(frame, 40), kept, band=0)
    assert kept[green].mean() > 0.95 and not kept[red_and_yellow].any()


def test_labels_without_a_person_is_one_line_error(models, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), scene(VGA)[0])
    run = run_demo("-m", models["person-0007"].xml, "-i", image, "--mode", "background", "--no_show",
                   "--labels", labels, "--no_cache")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == f"error: labels {labels} have no 'person' class: " \
                                                  "background mode keeps people"


@pytest.mark.parametrize(("flags", "code", "message"), [
    (["--median", "4"], 2, "argument --median: expected an odd whole number >= 1, got 4"),
    (["--alpha_edge", "0"], 2, "argument --alpha_edge: expected an odd whole number >= 1, got 0"),
    (["--target_color", "0,300,0"], 2, "argument --target_color: expected B,G,R with each 0-255"),
    (["--blur_bgr", "5", "--target_bgr", "x.png"], 2, "argument --target_bgr: not allowed with argument --blur_bgr"),
    (["--target_bgr", "missing.png"], 1, "--target_bgr: input 'missing.png' does not exist"),
])
def test_bad_flags_are_one_line_errors(models, tmp_path, flags, code, message):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), scene(VGA)[0])
    run = run_demo("-m", models["person-0007"].xml, "-i", image, "--mode", "background", "--no_show",
                   "--no_cache", *flags)
    assert run.returncode == code
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {message}") and "Traceback" not in run.stderr


def blob(class_id: int, frame_shape: tuple[int, ...], centre: tuple[int, int], axes: tuple[int, int]) -> Instance:
    """An instance whose mask is a filled ellipse, cropped to the frame like a pasted mask."""
    full = np.zeros(frame_shape[:2], dtype=np.uint8)
    cv2.ellipse(full, centre, axes, 0, 0, 360, 1, thickness=cv2.FILLED)
    x1, y1, x2, y2 = synthetic.truth_box(full.astype(bool))
    return Instance(class_id, "person" if class_id == 0 else "car", 0.9, Box(x1, y1, x2, y2),
                    BoxMask(full[y1:y2, x1:x2].astype(bool), x1, y1), (frame_shape[1], frame_shape[0]))


@pytest.mark.parametrize("edges", [EdgeStyle(5, 3), EdgeStyle(9, 7)])
def test_composing_by_regions_equals_composing_the_whole_frame(edges):
    frame = noise((300, 200), seed=7)
    people = [blob(0, frame.shape, (10, 15), (25, 30)),  # cut by the top-left corner
              blob(0, frame.shape, (60, 40), (20, 25)),  # overlaps the first's margin
              blob(0, frame.shape, (250, 170), (40, 35))]  # far away, cut by the bottom-right
    car = blob(2, frame.shape, (150, 100), (30, 20))
    colour = (10, 200, 30)

    composed = BackgroundComposer(StillReplacement.colour(colour), frozenset({0}), edges)(
        FrameResult(0, frame, [*people, car]))

    union = np.zeros(frame.shape[:2], dtype=np.uint8)
    for person in people:
        union |= person.full_mask().astype(np.uint8) * 255
    alpha = cv2.blur(cv2.medianBlur(union, edges.median), (edges.alpha_edge,) * 2)[..., None] / 255.0
    expected = np.rint(frame * alpha + np.array(colour) * (1 - alpha)).astype(np.uint8)
    np.testing.assert_array_equal(composed, expected)


def test_merged_regions_do_not_overlap_and_cover_every_region():
    # Only the union of the last two reaches the first, so one pass over the pairs is not enough.
    regions = [Region(0, 0, 10, 10), Region(8, 20, 30, 30), Region(25, 0, 35, 25), Region(100, 0, 110, 5)]
    merged = merge_overlapping(regions)
    assert sorted(merged, key=lambda r: r.x0) == [Region(0, 0, 35, 30), Region(100, 0, 110, 5)]
