"""Several inputs in one run: three synthetic sources of different lengths, sizes and frame rates (a video,
a folder of images, a clip that loops) through one model, each source's results, outputs and tile checked
against a run of that source alone."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.results import count_frames, read_results
from helpers.running import ROOT, run_demo, start_demo, wait_until
from helpers.stream_servers import LOOP, http_server, served_number, write_numbered_jpegs
from helpers.synthetic import Shape
from helpers.xserver import wait_for, x_server

import demo
from demo.app import many
from demo.frames.merge import Feed, SourceMerger
from demo.frames.sources import Frame

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)


def scene(width: int, height: int, step: int, colour: tuple[int, int, int]) -> np.ndarray:
    """A frame whose shapes move with ``step``, so that each frame's instances are its own."""
    shapes = [Shape.rect(colour, 10 + 6 * step, height // 3, 70 + 6 * step, height // 3 + 50),
              Shape.ellipse(BLUE, (width - 60, height // 2 + 2 * step), (30, 20))]
    return synthetic.draw_scene(width, height, shapes)[0]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    """By the name the demo gives it: the input and its frame count. 12 frames of 320x240 at 10 fps, 5
    images of 400x300, 20 frames of 640x360 at 25 fps."""
    folder = tmp_path_factory.mktemp("sources")
    video = synthetic.write_ffv1_video(folder / "street.avi", [scene(320, 240, k, RED) for k in range(12)], fps=10)
    photos = folder / "photos"
    photos.mkdir()
    for k in range(5):
        cv2.imwrite(str(photos / f"img_{k:02d}.png"), scene(400, 300, 3 * k, GREEN))
    clip = synthetic.write_ffv1_video(folder / "loop.mkv", [scene(640, 360, k, RED) for k in range(20)], fps=25)
    return {"street": (video, 12), "photos": (photos, 5), "loop": (clip, 20)}


def inputs(sources) -> list[str]:
    return [arg for path, _ in sources.values() for arg in ("-i", str(path))]


def by_source(records: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for record in records:
        grouped[record.pop("source")].append(record)
    return grouped


@pytest.fixture(scope="module")
def alone(models, sources, tmp_path_factory) -> dict[str, list[dict]]:
    """Each source's --results from a run of that source alone."""
    folder = tmp_path_factory.mktemp("alone")
    results = {}
    for name, (path, _) in sources.items():
        run = run_demo("-m", models["person-0007"].xml, "-i", path, "--no_show", "--results", folder / f"{name}.jsonl")
        assert run.returncode == 0, run.stderr
        results[name] = read_results(folder / f"{name}.jsonl")
    return results


@pytest.mark.slow
def test_every_source_complete_in_order_and_as_found_alone(models, sources, alone, tmp_path):
    results = tmp_path / "all.jsonl"
    run = run_demo("-m", models["person-0007"].xml, *inputs(sources), "--no_show", "--results", results,
                   "-o", tmp_path / "out_{source}.avi")
    assert run.returncode == 0, run.stderr
    grouped = by_source(read_results(results))
    assert set(grouped) == set(sources)
    for name, (_, length) in sources.items():
        assert [record["frame"] for record in grouped[name]] == list(range(length))
        # The same instances, boxes, masks and (per-source tracker) ids as when it ran alone.
        assert grouped[name] == alone[name]
        assert all(record["instances"] for record in grouped[name])
        # Each source's own video, every frame of it playing.
        assert count_frames(tmp_path / f"out_{name}.avi") == length
    # The sources took turns: every one had delivered a frame before any delivered its third.
    order = [json.loads(line)["source"] for line in results.read_text().splitlines()]
    assert set(order[:len(sources) * 2]) == set(sources)
    assert "source street: frames: 12" in run.stderr and "all 3 sources: frames: 37" in run.stderr


@pytest.mark.slow
def test_a_corrupt_file_is_reported_while_the_others_finish(models, sources, tmp_path):
    corrupt = tmp_path / "broken.avi"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00AVI " + bytes(range(256)) * 40)
    results = tmp_path / "all.jsonl"
    run = run_demo("-m", models["person-0007"].xml, *inputs(sources), "-i", corrupt, "--no_show",
                   "--results", results)
    # Exit 1: not everything asked for was read, though every source that could be read was, whole.
    assert run.returncode == 1
    reported = [line for line in run.stderr.splitlines() if "broken" in line]
    assert reported[0] == (f"[ERROR] source broken: input '{corrupt}' is neither a readable image nor a readable "
                           "video; the other sources go on")
    assert reported[-1].startswith("error: 1 of 4 sources failed") and len(reported) == 2
    grouped = by_source(read_results(results))
    assert {name: len(records) for name, records in grouped.items()} == {
        name: length for name, (_, length) in sources.items()}


@pytest.mark.slow
def test_looped_sources_take_turns_and_number_their_own_frames(models, sources, alone, tmp_path):
    """With --loop every source runs until stopped; the short folder never crowds out the others, and each
    source's frame n is its own frame n mod its length."""
    results = tmp_path / "all.jsonl"
    running = start_demo("-m", models["person-0007"].xml, *inputs(sources), "--loop", "--no_show",
                         "--results", results, "--no_track")
    try:
        assert wait_until(lambda: len(hidden_lines(results)) >= 90), running.stderr.read() if running.poll() else ""
        running.send_signal(signal.SIGINT)
        assert running.wait(timeout=60) == 130
    finally:
        if running.poll() is None:
            running.kill()
    grouped = by_source(read_results(results))
    counts = {name: len(records) for name, records in grouped.items()}
    assert max(counts.values()) - min(counts.values()) <= 3, counts  # round-robin: none ran ahead
    for name, records in grouped.items():
        length = sources[name][1]
        assert [record["frame"] for record in records] == list(range(len(records)))
        solo = [{**record, "instances": [{**i, "id": None} for i in record["instances"]]} for record in alone[name]]
        for record in records:
            assert record["instances"] == solo[record["frame"] % length]["instances"]


def hidden_lines(path: Path) -> list[str]:
    """The lines a running demo has written so far, to the hidden file it puts in place at the end."""
    for candidate in [path, *path.parent.glob(f".{path.name}.*{path.suffix}")]:
        if candidate.exists():
            return candidate.read_text().splitlines()
    return []


@pytest.mark.slow
def test_o_must_say_where_each_source_goes(models, sources, tmp_path):
    run = run_demo("-m", models["person-0007"].xml, *inputs(sources), "--no_show", "-o", tmp_path / "out.avi")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"error: -o '{tmp_path / 'out.avi'}' would take the frames of every source: with several inputs put "
        "{source} in its name (out_{source}.mp4) or give a folder"]
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_folder_as_o_and_a_list_of_inputs(models, sources, tmp_path):
    listing = tmp_path / "cameras.txt"
    # Relative to the list's folder, as playlists do; comments and blank lines aside.
    (tmp_path / "street.avi").symlink_to(sources["street"][0])
    listing.write_text(f"# the shop\nstreet.avi\n\n{sources['loop'][0]}\n")
    out = tmp_path / "recorded"
    out.mkdir()
    run = run_demo("-m", models["person-0007"].xml, "-i", f"@{listing}", "--no_show", "-o", out)
    assert run.returncode == 0, run.stderr
    assert sorted(path.name for path in out.iterdir()) == ["loop.mp4", "street.mp4"]
    assert count_frames(out / "street.mp4") == 12 and count_frames(out / "loop.mp4") == 20


@pytest.mark.slow
def test_a_recurrent_model_takes_one_input(tmp_path, sources):
    model = synthetic.build_recurrent_matting_model(tmp_path / "rvm.xml")
    run = run_demo("-m", model, *inputs(sources), "--no_show", "--mode", "background")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        "error: rvm is a recurrent model, whose states follow one video: give it one source, not several")


def test_names_are_short_safe_and_unique():
    assert many.source_names(["a/clip.mp4", "b/clip.mp4", "0", "rtsp://admin:secret@10.0.0.5:554/live/ch1",
                              "frames/img_%04d.png", "http://cam/video.mjpg?pwd=x"]) == [
        "clip", "clip-2", "camera0", "10.0.0.5_554_ch1", "img_04d", "cam_video"]


def test_the_merger_serves_ready_sources_in_turn_and_keeps_a_live_ones_newest():
    def frames(count: int) -> list[Frame]:
        return [Frame(k, np.zeros((1, 1, 3), np.uint8), "") for k in range(count)]

    merger = SourceMerger([Feed("long", frames(6)), Feed("short", frames(2))])
    taken = [(frame.source, frame.index) for frame in merger]
    assert taken[:4] == [("long", 0), ("short", 0), ("long", 1), ("short", 1)]
    assert taken[4:] == [("long", k) for k in range(2, 6)]
    # A live source whose frames came while none was taken: the newest kept, the others counted as dropped.
    # The reader is run here, to its end, before anything is taken: on its thread the timing would decide.
    live = Feed("camera", frames(5), newest_only=True)
    merger = SourceMerger([live])
    merger._read(live)
    newest = merger._next()
    assert (newest.index, newest.dropped_before, newest.source) == (0, 4, "camera")
    assert merger._next() is None


@pytest.mark.slow
def test_the_window_shows_every_source_in_its_tile(models, sources, tmp_path):
    """The grid on a real X server: paused, each tile is what that source's output holds for the frame it
    last delivered, the fourth tile of the 2x2 grid is empty, and each tile carries its label."""
    results = tmp_path / "all.jsonl"
    width, height = many.TILE_SIZE
    inside = slice(height // 4, height * 85 // 100)  # below the status lines, above the label

    def written(name: str, frame: int) -> np.ndarray:
        return many.fit_into(cv2.imread(str(tmp_path / f"out_{name}_{frame:03d}.png")), many.TILE_SIZE)

    def tile_of(shot: np.ndarray, position: int) -> np.ndarray:
        row, column = divmod(position, 2)
        return shot[row * height:(row + 1) * height, column * width:(column + 1) * width]

    def tile_difference(shot: np.ndarray, position: int, picture: np.ndarray) -> float:
        if shot.shape != (2 * height, 2 * width, 3):
            return float("inf")
        return float(cv2.absdiff(tile_of(shot, position), picture)[inside].max(axis=2).mean())

    with x_server((1600, 1000)) as display:
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "DISPLAY": display.display}
        environment.pop("WAYLAND_DISPLAY", None)
        with (tmp_path / "stderr.txt").open("w") as stderr:
            running = subprocess.Popen([sys.executable, "-m", "demo", "-m", str(models["person-0007"].xml),
                                        *inputs(sources), "--loop", "--results", str(results),
                                        "-o", str(tmp_path / "out_{source}_%03d.png")],
                                       cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            window = display.find_window("Instance segmentation")
            wait_for(lambda: len(hidden_lines(results)) >= 12, "four frames of each source")
            display.key(window, "space")
            wait_for(lambda: "paused" in display.window_name(window), "the title to say paused")
            last = {}
            for line in hidden_lines(results):
                record = json.loads(line)
                last[record["source"]] = record["frame"]
            shots = []

            def every_tile_shows_its_last_frame() -> bool:
                # Polled: on a loaded machine the window may be painted late; paused, it converges.
                shots[:] = [display.screenshot(window)]
                return all(tile_difference(shots[0], position, written(name, last[name])) < 1.0
                           for position, name in enumerate(sources))

            wait_for(every_tile_shows_its_last_frame, "every tile to show its source's last frame")
            screenshot = shots[0]
            display.key(window, "q")
            assert running.wait(timeout=60) == 0, (tmp_path / "stderr.txt").read_text()
        finally:
            if running.poll() is None:
                running.kill()
    assert screenshot.shape == (2 * height, 2 * width, 3)
    for position, name in enumerate(sources):
        tile = tile_of(screenshot, position)
        difference = cv2.absdiff(tile, written(name, last[name]))[inside].max(axis=2)
        assert difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 8, name
        # The frame two before, whose shapes had moved, does not match: the comparison can fail.
        assert tile_difference(screenshot, position, written(name, last[name] - 2)) > 1.0, name
        assert tuple(tile[height - 3, 3]) == (48, 48, 48)  # the label's box, bottom left
    assert not screenshot[height:, width:].any()  # no fourth source: a black tile


@pytest.mark.slow
def test_a_live_stream_among_files_keeps_to_its_newest_frame(models, sources, alone, tmp_path):
    """A real MJPEG stream over HTTP (ffmpeg, 30 fps) beside a video: the video's frames all come, as alone;
    the stream's are each newer than the one before, numbered on without gaps."""
    served = write_numbered_jpegs(tmp_path / "served")
    results = tmp_path / "all.jsonl"
    server = http_server(served[0].parent, 30)
    try:
        name = many.source_names([server.url])[0]

        def delivered() -> dict[str, int]:
            counts: dict[str, int] = defaultdict(int)
            for line in hidden_lines(results):
                counts[json.loads(line)["source"]] += 1
            return counts

        running = start_demo("-m", models["person-0007"].xml, "-i", sources["street"][0], "-i", server.url,
                             "--no_show", "--no_track", "--results", results)
        try:
            assert wait_until(lambda: delivered()["street"] == 12 and delivered()[name] >= 30), delivered()
            running.send_signal(signal.SIGINT)
            assert running.wait(timeout=60) == 130
        finally:
            if running.poll() is None:
                running.kill()
        stderr = running.stderr.read()
    finally:
        server.stop()
    grouped = by_source(read_results(results))
    untracked = [{**record, "instances": [{**i, "id": None} for i in record["instances"]]}
                 for record in alone["street"]]
    assert grouped["street"] == untracked
    assert "source street ended after 12 frames" in stderr
    stream = grouped[name]
    assert [record["frame"] for record in stream] == list(range(len(stream)))
    numbers = [served_number({i["label"]: i["box"][0] for i in record["instances"]}, 1.0) for record in stream]
    assert None not in numbers, numbers
    for place in range(1, len(numbers)):  # counted on past the end of the served loop
        if numbers[place] < numbers[place - 1] - LOOP // 2:
            numbers[place:] = [number + LOOP for number in numbers[place:]]
    assert all(later > earlier for earlier, later in zip(numbers, numbers[1:])), numbers


@pytest.mark.slow
def test_benchmark_and_printed_detections_name_each_source(models, sources, tmp_path):
    report = tmp_path / "report.json"
    run = run_demo("-m", models["person-0007"].xml, "-i", sources["street"][0], "-i", sources["loop"][0],
                   "--benchmark", "-niter", "30", "--report", report)
    assert run.returncode == 0, run.stderr
    figures = json.loads(report.read_text())
    assert set(figures["sources"]) == {"street", "loop"}
    assert sum(source["frames"] for source in figures["sources"].values()) == figures["frames"] == 30
    # Taken in turn: each source had half the frames, to within the one in flight at a round's end.
    assert all(abs(source["frames"] - 15) <= 2 for source in figures["sources"].values()), figures["sources"]
    assert "per source: street " in run.stdout
    printed = run_demo("-m", models["person-0007"].xml, "-i", sources["street"][0], "-i", sources["photos"][0],
                       "--no_show", "-r")
    assert printed.returncode == 0, printed.stderr
    headers = [line for line in printed.stdout.splitlines() if not line.startswith(" ")]
    assert sorted(headers) == sorted([f"street frame {k}: 2 instances" for k in range(12)]
                                     + [f"photos frame {k}: 2 instances" for k in range(5)])


def test_the_python_api_streams_several_sources_by_name(models, sources):
    segmenter = demo.open(models["person-0007"].xml, cache_dir=None)
    pictures = [scene(200, 150, k, GREEN) for k in range(3)]
    ended = []
    with demo.open_source(str(sources["street"][0])) as street:
        results = list(segmenter.stream_many({"street": street, "arrays": pictures}, on_end=ended.append))
    assert sorted(feed.name for feed in ended) == ["arrays", "street"] and not any(feed.error for feed in ended)
    arrays = [result for result in results if result.source == "arrays"]
    assert [result.index for result in arrays] == [0, 1, 2]
    assert [result.index for result in results if result.source == "street"] == list(range(12))
    for result, picture in zip(arrays, pictures):  # as one frame alone gives it
        alone = segmenter(picture)
        assert [(i.class_id, i.box) for i in result] == [(i.class_id, i.box) for i in alone]


@pytest.mark.slow
def test_a_missing_or_empty_list_of_inputs_is_one_line(models, tmp_path):
    missing = run_demo("-m", models["person-0007"].xml, "-i", f"@{tmp_path / 'cameras.txt'}", "--no_show")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"error: -i @{tmp_path / 'cameras.txt'}: no list of inputs '{tmp_path / 'cameras.txt'}' (an input whose "
        "name starts with @ is given with its folder: ./@NAME)"]
    (tmp_path / "empty.txt").write_text("# nothing yet\n\n")
    empty = run_demo("-m", models["person-0007"].xml, "-i", f"@{tmp_path / 'empty.txt'}", "--no_show")
    assert empty.returncode == 2
    assert empty.stderr.strip().splitlines() == [f"error: -i @{tmp_path / 'empty.txt'}: the list names no input"]


def test_a_source_failing_midway_ends_alone():
    def failing():
        yield Frame(0, np.zeros((1, 1, 3), np.uint8), "")
        raise OSError("the disk went away")

    ended = []
    merger = SourceMerger([Feed("good", [Frame(k, np.zeros((1, 1, 3), np.uint8), "") for k in range(5)]),
                           Feed("bad", failing())], on_end=ended.append)
    taken = [(frame.source, frame.index) for frame in merger]
    assert sorted(taken) == [("bad", 0)] + [("good", k) for k in range(5)]
    failed = next(feed for feed in ended if feed.name == "bad")
    assert isinstance(failed.error, OSError) and next(feed for feed in ended if feed.name == "good").error is None


@pytest.mark.slow
def test_a_stream_lost_for_good_is_one_line_and_exit_1_while_the_video_finishes(models, sources, tmp_path):
    served = write_numbered_jpegs(tmp_path / "served")
    results = tmp_path / "all.jsonl"
    server = http_server(served[0].parent, 30)
    try:
        name = many.source_names([server.url])[0]
        running = start_demo("-m", models["person-0007"].xml, "-i", sources["loop"][0], "-i", server.url,
                             "--no_show", "--reconnect", "0", "--results", results)
        try:
            assert wait_until(lambda: sum(name in line for line in hidden_lines(results)) >= 3)
            server.stop()
            assert running.wait(timeout=60) == 1
        finally:
            if running.poll() is None:
                running.kill()
    finally:
        server.stop()
    stderr = running.stderr.read()
    lost = [line for line in stderr.splitlines() if line.startswith("[ERROR]")]
    assert len(lost) == 1 and lost[0].startswith(f"[ERROR] source {name}: stream ") and lost[0].endswith(
        "(--reconnect 0); the other sources go on"), stderr
    assert stderr.strip().splitlines()[-1].startswith("error: 1 of 2 sources failed"), stderr
    grouped = by_source(read_results(results))
    assert [record["frame"] for record in grouped["loop"]] == list(range(20))
