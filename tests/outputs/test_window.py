"""The demo's real window on a real X server (Xvfb with openbox), driven as a user drives it:
keys and the close button through xdotool, what it shows photographed and compared with what the
demo wrote; and the runs where no window can open, which go on without one."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.results import count_frames
from helpers.running import ROOT, lines_written, run_demo
from helpers.xserver import TITLE, WAIT_S, Demo, XServer, wait_for, x_server

from demo.outputs.window import DisplayCheck, check_display, fitted_size, open_window
from demo.picture.render import status_box

CLIP = ROOT / "assets" / "sample_clip.avi"
CLIP_FRAMES = 30


@pytest.fixture
def display() -> Iterator[XServer]:
    with x_server() as server:
        yield server


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    """Whatever a test started is stopped however the test ends."""
    started: list[Demo] = []
    yield started
    for demo in started:
        demo.stop()


def start_on_clip(display: XServer, demos: list[Demo], models, tmp_path: Path, *outputs: str | Path) -> Demo:
    demo = Demo(display, tmp_path, "-m", models["person-0007"].xml, "-i", CLIP, "--loop", *outputs)
    demos.append(demo)
    return demo


def playing_video_run(display: XServer, demos: list[Demo], models, tmp_path: Path) -> tuple[Demo, str, Path, Path]:
    """The looped clip to a video and results, its window found and three frames in."""
    video, results = tmp_path / "out.avi", tmp_path / "frames.jsonl"
    demo = start_on_clip(display, demos, models, tmp_path, "-o", video, "--results", results)
    window = display.find_window(TITLE)
    wait_for(lambda: lines_written(results) >= 3, "three frames")
    return demo, window, video, results


def pause(display: XServer, window: str) -> None:
    display.key(window, "space")
    # The title says so once the demo has taken the key, and from then on it delivers nothing.
    wait_for(lambda: "paused" in display.window_name(window), "the title to say paused")


@pytest.mark.slow
@pytest.mark.parametrize("key", ["q", "shift+q", "Escape"])
def test_a_quit_key_ends_the_run_with_a_playing_video(display, demos, models, tmp_path, key):
    demo, window, video, results = playing_video_run(display, demos, models, tmp_path)
    display.key(window, key)
    assert demo.finish() == 0, demo.stderr
    assert count_frames(video) == lines_written(results) >= 3
    assert "WARNING" not in demo.stderr and "error" not in demo.stderr


@pytest.mark.slow
def test_the_close_button_ends_the_run_like_q(display, demos, models, tmp_path):
    demo, window, video, results = playing_video_run(display, demos, models, tmp_path)
    display.click_close_button(window)
    assert demo.finish() == 0, demo.stderr
    assert count_frames(video) == lines_written(results) >= 3
    assert not display.tool("xdotool", "search", "--name", TITLE, check=False).split()


@pytest.mark.slow
def test_space_pauses_and_resumes(display, demos, models, tmp_path):
    demo, window, video, results = playing_video_run(display, demos, models, tmp_path)
    pause(display, window)
    paused_at = lines_written(results)
    time.sleep(1.0)  # a frame a second would be far slower than this machine at its worst
    assert lines_written(results) == paused_at
    display.key(window, "space")
    wait_for(lambda: lines_written(results) > paused_at, "frames after resuming")
    assert "paused" not in display.window_name(window)
    display.key(window, "q")
    assert demo.finish() == 0, demo.stderr
    assert count_frames(video) == lines_written(results)


@pytest.mark.slow
def test_sigterm_stops_a_paused_run_cleanly(display, demos, models, tmp_path):
    demo, window, video, results = playing_video_run(display, demos, models, tmp_path)
    pause(display, window)
    demo.process.send_signal(signal.SIGTERM)
    assert demo.finish() == 130
    assert "interrupted: output files were closed" in demo.stderr
    assert count_frames(video) == lines_written(results) >= 3


@pytest.mark.slow
def test_the_window_shows_the_frame_the_demo_wrote(display, demos, models, tmp_path):
    results = tmp_path / "frames.jsonl"
    demo = start_on_clip(display, demos, models, tmp_path, "-o", tmp_path / "out_%03d.png", "--results", results)
    window = display.find_window(TITLE)
    wait_for(lambda: lines_written(results) >= 3, "three frames")
    pause(display, window)
    shown = lines_written(results) - 1  # paused on the frame it was showing, the last one delivered
    written = cv2.imread(str(tmp_path / f"out_{shown:03d}.png"))
    earlier = cv2.imread(str(tmp_path / f"out_{shown - 2:03d}.png"))
    # The status band aside (room for four lines): a live latency figure may be drawn as the frame is shown.
    outside_status = np.ones(written.shape[:2], bool)
    outside_status[:status_box(4).y2] = False
    shots = []

    def shows_the_written_frame() -> bool:
        # Polled: a loaded machine may paint the paused frame a moment late (it failed once in a full run).
        shots.append(display.screenshot(window))
        if shots[-1].shape != written.shape:
            return False
        difference = cv2.absdiff(shots[-1], written).max(axis=2)[outside_status]
        return difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 8

    wait_for(shows_the_written_frame, "the paused window showing the frame written last")
    screenshot = shots[-1]
    assert screenshot.shape == written.shape == (360, 640, 3)
    # And the frame two before, whose shapes have moved, does not match: the comparison can fail.
    assert cv2.absdiff(screenshot, earlier).max(axis=2)[outside_status].mean() > 5
    display.key(window, "q")
    assert demo.finish() == 0, demo.stderr


@pytest.mark.slow
def test_a_large_single_image_fits_the_screen_and_stays_until_a_key(demos, models, tmp_path):
    big, shown = tmp_path / "big.png", tmp_path / "shown.png"
    shapes = [synthetic.Shape.rect((0, 0, 255), 100, 100, 700, 900),
              synthetic.Shape.ellipse((0, 255, 0), (1200, 400), (250, 180))]
    cv2.imwrite(str(big), synthetic.draw_scene(1600, 1000, shapes)[0])
    with x_server((640, 480)) as display:
        # The status lines written too, so the file holds what the window shows.
        demo = Demo(display, tmp_path, "-m", models["person-0007"].xml, "-i", big, "-o", shown, "--status_in_output")
        demos.append(demo)
        window = display.find_window(TITLE)
        wait_for(shown.exists, "the output image")
        written = cv2.imread(str(shown))
        assert written.shape == (1000, 1600, 3)  # what is written keeps its size

        def shows_the_written_picture() -> bool:
            # Polled: on a loaded machine the window manager and Qt may paint the window late.
            where = display.geometry(window)
            expected = cv2.resize(written, (where.width, where.height), interpolation=cv2.INTER_AREA)
            screenshot = display.screenshot(window)
            if screenshot.shape != expected.shape:
                return False
            difference = cv2.absdiff(screenshot, expected).max(axis=2)
            return difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 8

        wait_for(shows_the_written_picture, "the window to show the written picture, scaled")
        time.sleep(1.0)
        assert demo.process.poll() is None, "the window of a single image closed by itself"
        where = display.geometry(window)
        assert where.width <= 640 and where.height <= 480
        assert abs(where.width / where.height - 1.6) < 0.01
        display.key(window, "Return")
        assert demo.finish() == 0, demo.stderr


@pytest.mark.slow
@pytest.mark.parametrize("environment, reason", [
    ({"DISPLAY": ":987"}, "the display ':987' cannot be reached"),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "only Wayland is running (WAYLAND_DISPLAY=wayland-0) and this OpenCV's "
                                       "window needs X11: start XWayland and set DISPLAY (e.g. DISPLAY=:0)"),
    ({}, "no display (DISPLAY is not set)"),
], ids=["display-not-there", "wayland-only", "no-display"])
def test_without_a_usable_display_the_run_goes_on_without_a_window(models, tmp_path, monkeypatch, environment,
                                                                    reason):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    video = tmp_path / "out.avi"
    run = run_demo("-m", models["person-0007"].xml, "-i", CLIP, "-o", video, env=environment)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line]
    assert warnings == [f"[WARNING] cannot open a window: {reason}; running without one"]
    assert count_frames(video) == CLIP_FRAMES


def test_the_display_check_reads_the_screen_size_from_x(display):
    assert check_display("QT", {"DISPLAY": display.display}) == DisplayCheck(None, display.screen)


def test_an_opencv_without_gui_is_named_with_what_to_install():
    # cv2.currentUIFramework() of opencv-python-headless, which cannot be installed beside the GUI build.
    for framework in ("", "NONE"):
        problem = check_display(framework, {"DISPLAY": ":0"}).problem
        assert problem and "this OpenCV has no GUI" in problem and "pip install opencv-python" in problem


def test_a_gtk_opencv_takes_wayland_as_it_is():
    assert check_display("GTK3", {"WAYLAND_DISPLAY": "wayland-0"}) == DisplayCheck(None)


def test_no_window_warns_once_and_returns_none(monkeypatch, caplog):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with caplog.at_level(logging.WARNING):
        assert open_window("preview") is None
    assert [r.getMessage() for r in caplog.records] == [
        "cannot open a window: no display (DISPLAY is not set); running without one"]


@pytest.mark.parametrize("size, screen, expected", [
    ((1600, 1000), (640, 480), (576, 360)),  # 90% of the width is the tighter bound
    ((1000, 2000), (1920, 1080), (486, 972)),  # 90% of the height
    ((640, 360), (1024, 768), (640, 360)),  # fits: unchanged, never enlarged
    ((640, 360), None, (640, 360)),  # screen unknown
])
def test_fitted_size(size, screen, expected):
    assert fitted_size(size, screen) == expected


def test_an_opencv_that_cannot_load_its_system_libraries_is_one_line(tmp_path):
    # A system without libGL cannot be made here: a stand-in cv2 fails to import the way the GUI
    # build does there (its real message), ahead of the real one on the path.
    (tmp_path / "cv2").mkdir()
    (tmp_path / "cv2" / "__init__.py").write_text(
        'raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")\n')
    done = subprocess.run([sys.executable, "-m", "demo", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=WAIT_S, env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(
        "error: a library the demo needs cannot load (libGL.so.1: cannot open shared object file")
    assert "apt install libgl1 libglib2.0-0" in done.stderr
