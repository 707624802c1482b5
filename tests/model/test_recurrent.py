"""Recurrent matting (robust-video-matting) and two-image matting (background-matting) in ``--mode background``.

The recurrent graph's states count the frames since they were last zero and its alpha is that count
/ 8, so each written frame shows how many frames its chain has seen: 1, 2, 3 in order, and 1 again
wherever the states must start again (a new pass of --loop, a new frame size, each image of a folder).
The two-image graph's alpha is |frame - plate| summed over channels / 64: known at every pixel.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
import pytest
from helpers import synthetic
from helpers.results import read_results
from helpers.running import ROOT, run_demo

import demo
from demo.frames.sources import Frame
from demo.model.contracts import PlateMattingContract, RecurrentMattingContract, recognise

FRAME_COLOUR = (200, 100, 50)
GREEN = (0, 255, 0)
SIZE = (320, 240)  # (w, h): room below the status lines, which cover the top-left 300x70
STATIC_HW = (80, 160)  # a small input for the runs; strides 5..40 divide it


def composite(opacity: int) -> np.ndarray:
    """The frame colour over green at this 0..255 opacity, rounded as the composer blends."""
    return (np.float64(FRAME_COLOUR) * opacity + np.float64(GREEN) * (255 - opacity) + 127) // 255


def counts_shown(pictures: list[np.ndarray]) -> list[int]:
    """The frame count each composite shows below the status area: the count whose blend it is."""
    found = []
    for picture in pictures:
        pixel = picture[200:, :].reshape(-1, 3)
        assert (pixel == pixel[0]).all(), "the alpha should be uniform"
        count = next(n for n in range(1, 9) if np.abs(composite(round(255 * n / 8)) - pixel[0]).max() <= 1)
        found.append(count)
    return found


def one_colour(path: Path, size: tuple[int, int] = SIZE) -> Path:
    cv2.imwrite(str(path), np.full((size[1], size[0], 3), FRAME_COLOUR, np.uint8))
    return path


@pytest.fixture(scope="module")
def rvm(tmp_path_factory) -> Path:
    return synthetic.build_recurrent_matting_model(tmp_path_factory.mktemp("rvm") / "rvm.xml", static_hw=STATIC_HW)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    frames = [np.full((SIZE[1], SIZE[0], 3), FRAME_COLOUR, np.uint8)] * 3
    return synthetic.write_ffv1_video(tmp_path_factory.mktemp("clip") / "clip.avi", frames)


def written(folder: Path) -> list[np.ndarray]:
    return [cv2.imread(str(path)) for path in sorted(folder.glob("out_*.png"))]


def test_the_real_signature_is_recognised_with_open_model_zoo_shapes(tmp_path):
    """As robust_video_matting_mobilenetv3.onnx reads, sizes dynamic: set to model.yml's 720x1280 and states."""
    model = ov.Core().read_model(synthetic.build_recurrent_matting_model(tmp_path / "rvm.xml"))
    contract = recognise(model, "rvm")

    assert isinstance(contract, RecurrentMattingContract) and contract.input_size == (1280, 720)
    assert dict(contract.shapes) == {0: (1, 3, 720, 1280), 1: (1, 16, 144, 256), 2: (1, 20, 72, 128),
                                     3: (1, 40, 36, 64), 4: (1, 64, 18, 32)}
    contract.prepare(model)
    assert [port.get_any_name() for port in model.inputs] == ["src"]
    assert [port.get_any_name() for port in model.outputs] == ["fgr", "pha"] and contract.alpha == 1
    # As exported: RGB in 0..1, so the graph gets the channel swap and the scale by 255.
    assert contract.preprocessing.reverse_channels and contract.preprocessing.scale == (255.0,)


def test_states_are_fed_back_in_order_through_one_request(rvm, clip, tmp_path):
    run = run_demo("-m", rvm, "-i", clip, "--mode", "background", "--no_show", "--no_cache", "-nireq", "4",
                   "-o", tmp_path / "out_%03d.png", "--results", tmp_path / "r.jsonl")

    assert run.returncode == 0, run.stderr
    assert ", 1 infer request\n" in run.stderr  # one, not "1 infer requests"
    assert counts_shown(written(tmp_path)) == [1, 2, 3]
    assert [len(frame["instances"]) for frame in read_results(tmp_path / "r.jsonl")] == [1, 1, 1]


def test_the_states_start_again_at_each_pass_of_a_loop(rvm, clip, tmp_path):
    command = [sys.executable, "-m", "demo", "-m", str(rvm), "-i", str(clip), "--loop", "--mode", "background",
               "--no_show", "--no_cache", "-r", "-o", str(tmp_path / "out_%03d.png")]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    for line in process.stdout:
        if line.startswith("frame 7:"):
            break
    process.stdout.close()  # the run ends as if stopped, its outputs whole
    process.wait(timeout=60)
    pictures = written(tmp_path)

    assert len(pictures) >= 8, process.stderr.read()
    assert counts_shown(pictures[:8]) == [1, 2, 3, 1, 2, 3, 1, 2]


def test_the_states_start_again_when_the_frame_size_changes(rvm):
    """No file source changes size mid-pass (OpenCV scales an image sequence to its first image), a camera
    can: the demo's own pipeline is given frames of two sizes that follow on (no cut)."""
    segmenter = demo.open(rvm, matting=True, requests=4, cache_dir=None)
    sizes = [SIZE, SIZE, (400, 300), (400, 300), (400, 300), SIZE]
    frames = [Frame(index, np.full((height, width, 3), FRAME_COLOUR, np.uint8), "")
              for index, (width, height) in enumerate(sizes)]

    alphas = [result.instances[0].alpha.mean() / 255 for result in segmenter.stream(frames)]

    assert segmenter.requests == 1
    assert np.round(np.multiply(alphas, synthetic.RVM_COUNT_SCALE)).tolist() == [1, 2, 1, 2, 3, 1]


@pytest.mark.slow
def test_each_image_of_a_folder_starts_the_states_again(rvm, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        one_colour(folder / f"{index}.png")

    run = run_demo("-m", rvm, "-i", folder, "--mode", "background", "--no_show", "--no_cache",
                   "-o", tmp_path / "out_%03d.png")

    assert run.returncode == 0, run.stderr
    assert counts_shown(written(tmp_path)) == [1, 1, 1]


def test_the_benchmark_measures_the_one_request_chain(rvm, clip, tmp_path):
    run = run_demo("-m", rvm, "-i", clip, "--mode", "background", "--benchmark", "-niter", "6", "--no_cache",
                   "--report", tmp_path / "report.json")

    assert run.returncode == 0, run.stderr
    report = __import__("json").loads((tmp_path / "report.json").read_text())
    assert report["infer_requests"] == 1 and report["frames"] == 6
    assert report["inference_only_fps"] > 0 and report["efficiency"] > 0


def errors(run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.slow
def test_in_instance_mode_and_in_eval_a_recurrent_model_is_one_line(rvm, tmp_path):
    image = one_colour(tmp_path / "frame.png")
    instances = run_demo("-m", rvm, "-i", image, "--no_show", "--no_cache")
    (tmp_path / "a.json").write_text('{"images": [], "annotations": [], "categories": []}')
    scored = run_demo("eval", "-m", rvm, "--annotations", tmp_path / "a.json", "--images", tmp_path, "--no_cache")

    for run in (instances, scored):
        assert run.returncode != 0 and "Traceback" not in run.stderr
        assert len(errors(run)) == 1, run.stderr
    assert "a matting model: use --mode background" in errors(instances)[0]


@pytest.mark.parametrize(("states", "expected"), [
    (synthetic.RVM_STATES[:3], "the state input r4 [1,64,2,4] needs one output of 64 channels"),
    ([*synthetic.RVM_STATES[:3], ("r4", "rr4", 64, 40), ("r5", "rr5", 64, 40)], "needs one output of 64 channels"),
], ids=["a state without its output", "two states of one channel count"])
def test_half_fitting_recurrent_models_are_one_line(tmp_path, states, expected):
    model = synthetic.build_recurrent_matting_model(tmp_path / "rvm.xml", states, STATIC_HW)
    if states == synthetic.RVM_STATES[:3]:  # add the input r4 with no output to feed it
        read = ov.Core().read_model(model)
        read.add_parameters([synthetic._image_input([1, 64, 2, 4], "r4")])
        model = tmp_path / "without_rr4.xml"
        ov.save_model(read, model)
    image = one_colour(tmp_path / "frame.png")

    run = run_demo("-m", model, "-i", image, "--mode", "background", "--no_show", "--no_cache")

    assert run.returncode == 1 and "Traceback" not in run.stderr and len(errors(run)) == 1, run.stderr
    assert expected in errors(run)[0]


def test_a_recurrent_output_of_another_channel_count_is_one_line(tmp_path):
    """rr4 with 32 channels where its state r4 has 64: r4 has nothing to be fed from."""
    model = synthetic.build_shaped_model(
        tmp_path / "m.xml", [("src", [1, 3, 80, 160]), ("r1", [1, 16, 16, 32]), ("r4", [1, 64, 2, 4])],
        [("fgr", [1, 3, 80, 160], ov.Type.f32), ("pha", [1, 1, 80, 160], ov.Type.f32),
         ("rr1", [1, 16, 16, 32], ov.Type.f32), ("rr4", [1, 32, 2, 4], ov.Type.f32)])

    run = run_demo("-m", model, "-i", one_colour(tmp_path / "frame.png"), "--mode", "background", "--no_show",
                   "--no_cache")

    assert run.returncode == 1 and len(errors(run)) == 1, run.stderr
    assert "the state input r4 [1,64,2,4] needs one output of 64 channels to be fed back from, found 0" in \
        errors(run)[0]


# Two-image matting.

@pytest.fixture(scope="module")
def bgm(tmp_path_factory) -> Path:
    return synthetic.build_plate_matting_model(tmp_path_factory.mktemp("bgm") / "bgm.xml", (240, 320))


def test_the_two_image_signature_is_recognised(tmp_path):
    model = ov.Core().read_model(synthetic.build_plate_matting_model(tmp_path / "bgm.xml", (720, 1280)))
    contract = recognise(model, "bgm")

    assert isinstance(contract, PlateMattingContract)
    assert (contract.image_input, contract.plate_input, contract.alpha, contract.input_size) == (0, 1, 0, (1280, 720))


def test_the_plate_is_compared_with_the_frame_pixel_by_pixel(bgm, tmp_path):
    """The plate is the frame's colour but for a block; the alpha is |frame - plate| / 64, at every pixel."""
    plate = np.full((SIZE[1], SIZE[0], 3), FRAME_COLOUR, np.uint8)
    plate[100:180, 40:200] = (180, 100, 50)  # differs by 20 in one channel: opacity 20/64
    plate[120:160, 240:300] = (0, 0, 0)  # differs by 350: opaque
    cv2.imwrite(str(tmp_path / "plate.png"), plate)
    frame = one_colour(tmp_path / "frame.png")

    run = run_demo("-m", bgm, "-i", frame, "--background", tmp_path / "plate.png", "--mode", "background",
                   "--no_show", "--no_cache", "-o", tmp_path / "out.png")

    assert run.returncode == 0, run.stderr
    picture = cv2.imread(str(tmp_path / "out.png")).astype(int)
    opacity = np.zeros(SIZE[::-1], np.float64)
    opacity[100:180, 40:200] = 20 / 64
    opacity[120:160, 240:300] = 1.0
    expected = (np.float64(FRAME_COLOUR) * np.rint(opacity * 255)[..., None]
                + np.float64(GREEN) * (255 - np.rint(opacity * 255))[..., None] + 127) // 255
    error = np.abs(picture - expected)
    error[:70, :300] = 0  # the status lines
    assert error.max() <= 1, np.unravel_index(error.argmax(), error.shape)


def test_without_the_plate_a_two_image_model_is_one_line(bgm, tmp_path):
    run = run_demo("-m", bgm, "-i", one_colour(tmp_path / "frame.png"), "--mode", "background", "--no_show",
                   "--no_cache")

    assert run.returncode == 2 and len(errors(run)) == 1, run.stderr
    assert "give --background IMAGE" in errors(run)[0]


def test_a_plate_that_is_not_an_image_is_one_line(bgm, clip, tmp_path):
    run = run_demo("-m", bgm, "-i", one_colour(tmp_path / "frame.png"), "--background", clip, "--mode",
                   "background", "--no_show", "--no_cache")

    assert run.returncode == 2 and len(errors(run)) == 1 and "--background" in errors(run)[0], run.stderr


def test_a_two_image_model_with_a_wrong_channel_count_is_one_line(tmp_path):
    model = synthetic.build_shaped_model(
        tmp_path / "m.xml", [("src", [1, 3, 48, 64]), ("bgr", [1, 3, 48, 64])],
        [("pha", [1, 1, 48, 64], ov.Type.f32), ("fgr", [1, 4, 48, 64], ov.Type.f32)])

    run = run_demo("-m", model, "-i", one_colour(tmp_path / "frame.png"), "--mode", "background", "--no_show",
                   "--no_cache", "--background", one_colour(tmp_path / "plate.png"))

    assert run.returncode == 1 and len(errors(run)) == 1, run.stderr
    assert "it needs one alpha matte [1,1,H,W] and a foreground [1,3,H,W] output" in errors(run)[0]
