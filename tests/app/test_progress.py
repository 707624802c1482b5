"""The progress of a run without a window, read from a real pseudo-terminal as a user's terminal shows it:
frames done of the total, FPS and the time left, the demo's own lines whole above it, and nothing of it when
stderr is a pipe."""
from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import re
import select
import struct
import sys
import termios

import cv2
import pytest
from helpers import synthetic
from helpers.running import ROOT, run_demo, run_on_terminal

from demo.app import progress
from demo.app.progress import ERASE_LINE

CLIP = ROOT / "assets" / "sample_clip.avi"
CLIP_FRAMES = 30
# What a bar of a known total and one of an unknown total say, as the user reads them.
KNOWN = re.compile(r"frames: +(\d+)%\|.{20}\| (\d+)/(\d+) \[(\d\d:\d\d)<(\d\d:\d\d|\?)(?:, (\d+\.\d) FPS)?\]")
UNKNOWN = re.compile(r"frames: (\d+) \[(\d\d:\d\d)(?:, (\d+\.\d) FPS)?\]")
SUMMARY = re.compile(r"frames: (\d+), FPS: ")


def drawn_lines(terminal: str) -> list[str]:
    """Every state of the terminal's current line: what was drawn between two returns or newlines."""
    return [part for line in terminal.split("\n") for part in line.split("\r") if part.strip()]


def bars(terminal: str, bar: re.Pattern) -> list[re.Match]:
    return [match for part in drawn_lines(terminal) if (match := bar.fullmatch(part.rstrip()))]


def after_the_bar(terminal: str) -> str:
    """What the terminal received once the bar was wiped, to the end of its line (a ^C echoed there too)."""
    _, wiped, after = terminal.rpartition("\r" + ERASE_LINE)
    assert wiped, repr(terminal[-300:])
    assert not bars(after, KNOWN) and not bars(after, UNKNOWN)
    return after


@pytest.mark.slow
def test_a_run_without_a_window_shows_frames_of_the_total_fps_and_time_left(models):
    run = run_on_terminal("-m", models["person-0007"].xml, "-i", CLIP, "--no_show", "--no_cache")

    assert run.returncode == 0, run.terminal
    shown = bars(run.terminal, KNOWN)
    assert shown, repr(run.terminal)
    assert {int(bar[3]) for bar in shown} == {CLIP_FRAMES}
    done = [int(bar[2]) for bar in shown]
    assert done == sorted(done) and done[0] == 0 and done[-1] >= CLIP_FRAMES // 2
    assert all(int(bar[1]) == round(100 * int(bar[2]) / CLIP_FRAMES) for bar in shown)
    rated = [bar for bar in shown if bar[6]]
    assert rated and all(float(bar[6]) > 0 and bar[5] != "?" for bar in rated)
    # Then the summary, as a run without a terminal prints it, on lines of its own.
    after = after_the_bar(run.terminal)
    assert SUMMARY.match(after)[1] == str(CLIP_FRAMES)
    assert after.splitlines()[1].startswith("per-frame stage latency (ms): ")


@pytest.mark.slow
def test_with_stderr_a_pipe_there_is_no_progress(models):
    run = run_demo("-m", models["person-0007"].xml, "-i", CLIP, "--no_show", "--no_cache")

    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr and "\x1b" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 3, run.stderr
    assert lines[0].startswith("[INFO] model ") and SUMMARY.match(lines[1])[1] == str(CLIP_FRAMES)


@pytest.mark.slow
def test_log_lines_are_written_whole_above_the_bar_of_every_source(models, tmp_path):
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), synthetic.draw_scene(320, 240, [synthetic.Shape.rect((0, 0, 255), 20, 20, 90, 200)])[0])

    run = run_on_terminal("-m", models["person-0007"].xml, "-i", CLIP, "-i", still, "--no_show", "--no_cache")

    assert run.returncode == 0, run.terminal
    shown = bars(run.terminal, KNOWN)
    assert {int(bar[3]) for bar in shown} == {CLIP_FRAMES + 1}  # one bar for the whole run: both sources' frames
    # The still image ends at once, while the bar shows: its line is cleared for, written whole, and the bar
    # drawn again below it.
    line = next(line for line in run.terminal.split("\n") if "ended after" in line)
    *_, bar, wiped, written = line.split("\r")
    assert KNOWN.fullmatch(bar.rstrip()) and wiped == " " * len(wiped) >= " " * len(bar.rstrip())
    assert written == "[INFO] source still ended after 1 frame"
    assert bars(run.terminal.split(written, 1)[1], KNOWN)


@pytest.mark.slow
def test_detections_printed_to_the_same_terminal_go_above_the_bar(models):
    run = run_on_terminal("-m", models["person-0007"].xml, "-i", CLIP, "--no_show", "--no_cache", "-r",
                          stdout_too=True)

    assert run.returncode == 0, run.terminal
    heads = [line.rsplit("\r", 1)[-1] for line in run.terminal.split("\n") if re.search(r"frame \d+: ", line)]
    assert [re.fullmatch(r"frame (\d+): \d+ instances?", head)[1] for head in heads] == [
        str(n) for n in range(CLIP_FRAMES)]
    assert len(bars(run.terminal, KNOWN)) >= CLIP_FRAMES // 2


@pytest.mark.slow
def test_ctrl_c_wipes_the_bar_and_prints_the_summary(models):
    run = run_on_terminal("-m", models["person-0007"].xml, "-i", CLIP, "--loop", "--no_show", "--no_cache",
                          interrupt_when=" FPS]")

    assert run.returncode == 130, run.terminal
    shown = bars(run.terminal, UNKNOWN)  # looping: no total, so no share and no time left
    assert [int(bar[1]) for bar in shown][:1] == [0] and any(bar[3] for bar in shown)
    after = after_the_bar(run.terminal)
    assert int(SUMMARY.match(after)[1]) >= 2
    assert after.rstrip("\n").endswith("interrupted: output files were closed")
    assert "Traceback" not in run.terminal


@pytest.mark.slow
def test_max_frames_gives_a_looped_input_a_total(models):
    run = run_on_terminal("-m", models["person-0007"].xml, "-i", CLIP, "--loop", "--max_frames", "45", "--no_show",
                          "--no_cache")

    assert run.returncode == 0, run.terminal
    assert {int(bar[3]) for bar in bars(run.terminal, KNOWN)} == {45}
    assert SUMMARY.match(after_the_bar(run.terminal))[1] == "45"


def test_lines_written_while_the_bar_shows_come_out_whole_above_it(monkeypatch):
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    screen = open(terminal, "w", buffering=1)  # noqa: SIM115 - closed below, once the bar is done
    handler = logging.StreamHandler(screen)
    monkeypatch.setattr(sys, "stderr", screen)
    # Its handler alone: an in-process run of an earlier test may have left the demo's own, on a stream since closed.
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    try:
        with progress.shown(3, wanted=True) as bar:
            bar.advance(0.0)
            print("half", "a line", file=sys.stderr)  # print writes the words, the spaces and the newline apart
            logging.getLogger("demo").warning("a warning")
            bar.advance(12.5)
    finally:
        screen.close()
    received = b""
    while select.select([controller], [], [], 0.5)[0]:
        try:
            received += os.read(controller, 65536)
        except OSError:
            break
    os.close(controller)
    shown = received.decode().replace("\r\n", "\n")

    lines = [line.rsplit("\r", 1)[-1] for line in shown.split("\n")]
    assert lines[:2] == ["half a line", "a warning"], repr(shown)
    assert [bar[2] for bar in bars(shown.split("a warning", 1)[1], KNOWN)][:1] == ["1"]  # drawn again below them
    assert shown.endswith("\r" + ERASE_LINE)


def test_no_bar_without_a_terminal_or_with_a_window(monkeypatch):
    with progress.shown(3, wanted=False) as bar:
        assert bar is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with progress.shown(3, wanted=True) as bar:
        assert bar is None
    assert sys.stderr.getvalue() == ""
