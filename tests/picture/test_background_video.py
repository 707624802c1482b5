"""Background and privacy modes over video: a steady edge, a hold on missed frames, a blur
without a halo, people hidden in the scene; driven through the composer with known masks,
and end to end through ``python -m demo``."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.background_scene import STATUS_AREA, VGA, halo_free_blur, scene
from helpers.running import run_demo
from helpers.scenes import GREEN

from demo.picture.background import (
    DEFAULT_HOLD,
    DEFAULT_SMOOTH,
    TRAIL,
    AlphaHistory,
    BackgroundComposer,
    BackgroundSettings,
    BlurPeople,
    BlurReplacement,
    EdgeStyle,
    Footage,
    PixelatePeople,
    StillReplacement,
)
from demo.results.instances import Box, FrameResult, Instance
from demo.results.masks import BoxMask

SIZE = (320, 240)
REACH = EdgeStyle().reach  # 3: the defaults' soft edge reaches this far either side of the mask
ROOM_GREEN = (0, 255, 0)
PERSON_RED = (0, 0, 255)


def noise(seed: int, size: tuple[int, int] = SIZE, grey: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picture = rng.integers(0, 256, (size[1], size[0], 1 if grey else 3), dtype=np.uint8)
    return np.repeat(picture, 3, axis=2) if grey else picture


def ellipse_mask(centre: tuple[int, int], axes: tuple[int, int], size: tuple[int, int] = SIZE) -> np.ndarray:
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, thickness=cv2.FILLED)
    return mask.astype(bool)


def person(mask: np.ndarray, class_id: int = 0) -> Instance:
    """An instance with this frame-sized mask, laid out as a paste gives it (its box only)."""
    x1, y1, x2, y2 = synthetic.truth_box(mask)
    return Instance(class_id, "person", 0.9, Box(x1, y1, x2, y2), BoxMask(mask[y1:y2, x1:x2], x1, y1),
                    (mask.shape[1], mask.shape[0]))


def composer(smooth: float = DEFAULT_SMOOTH, hold: int = 0, empty_shows_background: bool = True,
             look=None) -> BackgroundComposer:
    return BackgroundComposer(look or StillReplacement.colour(ROOM_GREEN), frozenset({0}), EdgeStyle(),
                              empty_shows_background, history=AlphaHistory(smooth, hold))


def jittering_clip(frames: int = 40) -> list[np.ndarray]:
    """A person whose mask's edge moves in or out by 0, 1 or 2 px at random from frame to frame."""
    rng = np.random.default_rng(1)
    return [ellipse_mask((160, 120), (50 + j, 80 + j)) for j in rng.integers(-2, 3, frames)]


def edge_flicker(smooth: float, frame: np.ndarray, masks: list[np.ndarray]) -> float:
    """The mean change of the composite from one frame to the next, in the band of 4 px either side
    of the person's mean edge (after 5 frames to settle)."""
    compose = composer(smooth)
    outputs = [compose(FrameResult(i, frame, [person(mask)])).astype(int) for i, mask in enumerate(masks)]
    mean_mask = ellipse_mask((160, 120), (50, 80)).view(np.uint8)
    square = np.ones((9, 9), np.uint8)
    band = (cv2.dilate(mean_mask, square) - cv2.erode(mean_mask, square)).astype(bool)
    return float(np.mean([np.abs(after - before)[band].mean() for before, after in zip(outputs[5:], outputs[6:])]))


def test_smoothing_cuts_the_flicker_of_a_jittering_edge_threefold():
    frame = np.full((SIZE[1], SIZE[0], 3), PERSON_RED, np.uint8)
    masks = jittering_clip()

    unsmoothed, smoothed = edge_flicker(0, frame, masks), edge_flicker(DEFAULT_SMOOTH, frame, masks)

    assert unsmoothed > 10  # the clip really flickers: tens of grey levels a frame along the edge
    assert unsmoothed / smoothed >= 2.5, (unsmoothed, smoothed)  # measured 3.2 at the default 0.7


def distance_to(mask: np.ndarray) -> np.ndarray:
    """Each pixel's distance in pixels (chessboard: the square filters' own) to the mask."""
    return cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_C, 3)


@pytest.mark.parametrize("speed", [4, 12, 30])
def test_a_fast_moving_person_leaves_no_trail(speed):
    frame = noise(2)
    compose = composer(smooth=0.9)  # the strongest smoothing a user is likely to ask for
    green = np.full_like(frame, ROOM_GREEN)
    for index in range(8):
        mask = ellipse_mask((40 + speed * index, 120), (30, 70))
        output = compose(FrameResult(index, frame, [person(mask)]))

        shown = (output != green).any(axis=2)
        # The edge is within TRAIL + REACH (6) px of the true edge, before and behind the person...
        assert distance_to(mask)[shown].max() <= TRAIL + REACH
        # ...and the person, as far inside, is the frame's own.
        deep_inside = distance_to(~mask) > TRAIL + REACH
        np.testing.assert_array_equal(output[deep_inside], frame[deep_inside])


@pytest.mark.parametrize("missed", range(1, 4))
def test_a_dropout_up_to_hold_frames_shows_the_held_mask_never_the_room(missed):
    hold = 3
    frame = noise(3)
    mask = ellipse_mask((100, 120), (40, 70))
    compose = composer(hold=hold)
    outputs = [compose(FrameResult(i, frame, [person(mask)])) for i in range(6)]
    outputs += [compose(FrameResult(6 + i, frame, [])) for i in range(missed)]
    outputs.append(compose(FrameResult(6 + missed, frame, [person(mask)])))

    for held in outputs[6:]:
        np.testing.assert_array_equal(held, outputs[5])  # the very composite of the last frame seen


@pytest.mark.parametrize(("empty_shows_background", "empty"), [(True, "replacement"), (False, "frame")])
def test_after_the_hold_the_mask_fades_then_empty_applies(empty_shows_background, empty):
    hold = 3
    frame = noise(4)
    mask = ellipse_mask((100, 120), (40, 70))
    green = np.full_like(frame, ROOM_GREEN)
    compose = composer(hold=hold, empty_shows_background=empty_shows_background)
    last_seen = [compose(FrameResult(i, frame, [person(mask)])) for i in range(6)][-1]
    after = [compose(FrameResult(6 + i, frame, [])) for i in range(hold + 30)]

    for output in after[:hold]:
        np.testing.assert_array_equal(output, last_seen)
    fading = after[hold]
    inside = distance_to(~mask) > REACH
    beyond = distance_to(mask) > REACH
    assert (fading != last_seen).any() and (fading[beyond] == green[beyond]).all()  # fades, the room hidden
    nobody = green if empty == "replacement" else frame
    gone = next(index for index, out in enumerate(after) if np.array_equal(out, nobody))
    shown = [np.abs(out.astype(int) - green)[inside].mean() for out in after[hold - 1:gone]]
    assert all(b <= a for a, b in zip(shown, shown[1:])) and shown[-1] < shown[0] / 10, shown  # fading out
    assert hold < gone < hold + 20 and all(np.array_equal(out, nobody) for out in after[gone:])


def test_a_new_size_a_gap_in_the_frame_numbers_and_a_new_pass_start_afresh():
    frame = noise(5)
    mask = ellipse_mask((100, 120), (40, 70))
    history = AlphaHistory(DEFAULT_SMOOTH, DEFAULT_HOLD, pass_length=10)
    compose = BackgroundComposer(StillReplacement.colour(ROOM_GREEN), frozenset({0}), EdgeStyle(), True,
                                 history=history)
    for index in range(3):
        compose(FrameResult(index, frame, [person(mask)]))
    fresh = BackgroundComposer(StillReplacement.colour(ROOM_GREEN), frozenset({0}), EdgeStyle(), True)
    nobody_there = fresh(FrameResult(0, frame, []))  # all green: what a fresh start with nobody shows

    for index in (3 + 1, 10, 20):  # a skipped frame number; the first frames of passes 2 and 3
        np.testing.assert_array_equal(compose(FrameResult(index, frame, [])), nobody_there)
        compose(FrameResult(index + 1, frame, [person(mask)]))
    small = noise(6, (200, 100))
    np.testing.assert_array_equal(compose(FrameResult(22, small, [])), np.full_like(small, ROOM_GREEN))


def test_settings_choose_the_history_and_the_empty_frame_for_the_footage():
    labels = ["person", "car"]
    video = BackgroundComposer.from_settings(BackgroundSettings(), labels, "labels.txt", Footage(True, 100))
    photos = BackgroundComposer.from_settings(BackgroundSettings(), labels, "labels.txt", Footage(False))
    no_history = BackgroundComposer.from_settings(BackgroundSettings(smooth=0, hold=0), labels, "x", Footage())

    assert video.history.smooth == DEFAULT_SMOOTH and video.history.hold == DEFAULT_HOLD
    assert video.empty_shows_background  # a missed person must not show the room
    assert photos.history is None and not photos.empty_shows_background  # stills as before
    assert no_history.history is None and not no_history.empty_shows_background


def redness(picture: np.ndarray) -> np.ndarray:
    """How far each pixel leans to red: 0 for any grey."""
    signed = picture.astype(int)
    return signed[..., 2] - (signed[..., 0] + signed[..., 1]) // 2


def test_the_blurred_background_carries_no_colour_of_the_person():
    frame = noise(7, grey=True)
    people = [ellipse_mask((120, 120), (40, 70)), ellipse_mask((300, 20), (40, 40))]  # one cut by the border
    for mask in people:
        frame[mask] = PERSON_RED
    kernel = 31
    result = FrameResult(0, frame, [person(mask) for mask in people])
    union = (people[0] | people[1]).view(np.uint8) * 255
    alpha = EdgeStyle().alpha(union)
    background = alpha == 0  # beyond the soft edge
    near = distance_to(union > 0) <= kernel // 2  # the background pixels a plain blur reaches from a person

    output = BackgroundComposer(BlurReplacement(kernel), frozenset({0}), EdgeStyle())(result)

    np.testing.assert_array_equal(output[background], halo_free_blur(frame, alpha, kernel)[background])
    assert redness(output[background]).max() <= 1  # grey, to the rounding of the mean
    plain = cv2.blur(frame, (kernel, kernel))  # the blur before: the whole frame, people included
    assert redness(plain[background & near]).max() > 100


def pixelated(frame: np.ndarray, block: int) -> np.ndarray:
    """Each block of the frame's grid (from its top-left corner) filled with its rounded mean."""
    out = np.empty_like(frame)
    for top in range(0, frame.shape[0], block):
        for left in range(0, frame.shape[1], block):
            cell = frame[top:top + block, left:left + block].reshape(-1, 3).astype(int)
            out[top:top + block, left:left + block] = (2 * cell.sum(axis=0) + len(cell)) // (2 * len(cell))
    return out


@pytest.mark.parametrize("look", [BlurPeople(21), PixelatePeople(8), PixelatePeople(7)], ids=repr)
def test_privacy_hides_the_people_and_keeps_the_rest_exactly(look):
    frame = noise(8)
    people = [ellipse_mask((60, 60), (40, 50)), ellipse_mask((110, 90), (30, 40)),  # overlapping regions
              ellipse_mask((310, 230), (45, 60))]  # cut by the bottom-right corner
    car = ellipse_mask((230, 60), (30, 20))
    result = FrameResult(0, frame, [*(person(mask) for mask in people), person(car, class_id=2)])
    alpha = EdgeStyle().alpha(np.any(people, axis=0).view(np.uint8) * 255)
    hidden = cv2.blur(frame, (look.kernel,) * 2) if isinstance(look, BlurPeople) else pixelated(frame, look.block)

    output = BackgroundComposer(look, frozenset({0}), EdgeStyle())(result)

    inside, outside = alpha == 255, alpha == 0
    np.testing.assert_array_equal(output[inside], hidden[inside])
    np.testing.assert_array_equal(output[outside], frame[outside])  # the car too
    assert np.mean((output != frame).any(axis=2)[inside]) > 0.95  # the people's own pixels are gone


# ---- end to end -------------------------------------------------------------------------------

def run_on_video(tmp_path, model, frames, *flags):
    """The frames as an FFV1 video through the demo, written as PNGs; the written frames."""
    video = synthetic.write_ffv1_video(tmp_path / "in.mkv", frames)
    run = run_demo("-m", model, "-i", video, "--no_show", "--no_cache", "-o", tmp_path / "out_%02d.png", *flags)
    assert run.returncode == 0, run.stderr
    written = [cv2.imread(str(tmp_path / f"out_{number:02d}.png")) for number in range(len(frames))]
    assert all(picture is not None for picture in written) and not (tmp_path / f"out_{len(frames):02d}.png").exists()
    return written


def unstatused(picture: np.ndarray, under: np.ndarray) -> np.ndarray:
    picture = picture.copy()
    picture[STATUS_AREA] = under[STATUS_AREA]
    return picture


@pytest.mark.slow
def test_a_video_frame_without_people_keeps_them_held_and_never_shows_the_room(models, tmp_path):
    with_people, people = scene(VGA)
    without, _ = scene(VGA, people=False)
    frames = [with_people, with_people, with_people, without]

    held = run_on_video(tmp_path, models["person-0007"].xml, frames, "--mode", "background",
                        "--smooth", "0.7", "--hold", "2")
    green = np.full_like(without, GREEN)
    away = distance_to(people) > 2 * REACH + TRAIL
    away[STATUS_AREA] = False
    np.testing.assert_array_equal(held[3][away], green[away])  # the car and the dog stay hidden
    # The frame before still held the people, at the places they were.
    assert (held[3][people] != green[people]).any(axis=1).mean() > 0.9

    (tmp_path / "off").mkdir()
    bare = run_on_video(tmp_path / "off", models["person-0007"].xml, frames, "--mode", "background",
                        "--smooth", "0", "--hold", "0")
    np.testing.assert_array_equal(unstatused(bare[3], without), without)  # as before: --empty original


def test_blur_over_a_video_keeps_people_and_blurs_without_them(models, tmp_path):
    frames = [scene(VGA)[0]] * 3
    written = run_on_video(tmp_path, models["person-0007"].xml, frames, "--mode", "background", "--blur_bgr", "15")
    drawn_people = scene(VGA)[1]
    far = distance_to(drawn_people) > REACH + TRAIL + 15 // 2 + 2
    far[STATUS_AREA] = False
    plain = cv2.blur(frames[0], (15, 15))
    for output in written:
        np.testing.assert_array_equal(output[far], plain[far])
        inside = distance_to(~drawn_people) > REACH + TRAIL + 2
        np.testing.assert_array_equal(output[inside], frames[0][inside])


@pytest.mark.parametrize("flags", [["--pixelate", "8"], ["--blur_people", "15"]])
def test_privacy_mode_hides_the_chosen_classes_in_a_video(models, tmp_path, flags):
    frame, people = scene(VGA)
    car_and_dog = ((frame == (0, 255, 0)).all(axis=2) | (frame == (255, 0, 0)).all(axis=2))
    written = run_on_video(tmp_path, models["security-0091"].xml, [frame] * 3, "--mode", "privacy",
                           "--classes", "car,dog", *flags)

    hidden_inside = distance_to(~car_and_dog) > REACH + TRAIL + 2
    kept = distance_to(car_and_dog) > REACH + TRAIL + 2
    kept[STATUS_AREA] = False
    kernel_or_block = int(flags[1])
    hidden = pixelated(frame, kernel_or_block) if flags[0] == "--pixelate" else cv2.blur(frame, (kernel_or_block,) * 2)
    for output in written:
        np.testing.assert_array_equal(output[kept], frame[kept])  # the people are left alone
        np.testing.assert_array_equal(output[hidden_inside], hidden[hidden_inside])
        # The shapes are flat colours: what gives them away is their outline, which is gone.
        assert (output != frame).any(axis=2)[car_and_dog].mean() > 0.05
    assert kept[people].mean() > 0.95


@pytest.mark.parametrize(("flags", "code", "message"), [
    (["--mode", "background", "--smooth", "1"], 2, "argument --smooth: expected a number >= 0, got 1 (at most 0.99)"),
    (["--mode", "background", "--hold", "-1"], 2, "argument --hold: expected a whole number >= 0, got -1"),
    (["--mode", "privacy", "--pixelate", "1"], 2, "argument --pixelate: expected a whole number >= 2, got 1"),
    (["--mode", "background", "--pixelate", "8"], 2, "argument --pixelate: only with --mode privacy"),
    (["--mode", "privacy", "--blur_bgr", "9"], 2, "argument --blur_bgr: only with --mode background"),
    (["--mode", "privacy", "--blur_people", "9", "--pixelate", "8"], 2,
     "argument --pixelate: not allowed with argument --blur_people"),
    (["--mode", "privacy", "--classes", "car,,dog"], 2, "argument --classes: expected class names or ids separated by"),
    (["--mode", "privacy", "--classes", "car,unicorn"], 2, "unknown class 'unicorn'; the model's classes are"),
])
def test_bad_flags_are_one_line_errors(models, tmp_path, flags, code, message):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), scene(VGA)[0])
    run = run_demo("-m", models["security-0091"].xml, "-i", image, "--no_show", "--no_cache", *flags)
    assert run.returncode == code, run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {message}") and "Traceback" not in run.stderr
    if "unicorn" in flags[-1]:
        assert "person, bicycle, car" in lines[-1] and len(lines) == 1


@pytest.mark.slow
@pytest.mark.parametrize("mode_flags", [["--mode", "background", "--smooth", "0.7", "--blur_bgr", "15"],
                                        ["--mode", "privacy", "--pixelate", "8"]])
def test_benchmark_measures_the_composed_modes(models, tmp_path, mode_flags):
    frames = [scene(VGA)[0]] * 4
    video = synthetic.write_ffv1_video(tmp_path / "in.mkv", frames)
    report = tmp_path / "report.json"
    run = run_demo("-m", models["person-0007"].xml, "-i", video, "--no_cache", "--benchmark", "-niter", "12",
                   "--report", report, *mode_flags)
    assert run.returncode == 0, run.stderr
    figures = json.loads(report.read_text())
    assert figures["frames"] == 12 and figures["stages_ms"]["render"] > 0
