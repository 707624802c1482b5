"""Ids as a user gets them from `python -m demo`: the tracking scene (two people of one class
crossing, one hidden by a pillar for 20 frames) run through a real model, read back from
--results and -r."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from helpers import synthetic, tracking_scene
from helpers.results import decode_mask, iou, read_results
from helpers.running import run_demo


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    frames = [tracking_scene.frame(t)[0] for t in range(tracking_scene.FRAMES)]
    return synthetic.write_ffv1_video(tmp_path_factory.mktemp("tracking") / "scene.avi", frames)


def tracked_run(models, clip: Path, results: Path, *flags: str) -> tuple[list[dict], str]:
    run = run_demo("-m", models["person-0007"].xml, "-i", clip, "--no_show", "--no_cache",
                   "--results", results, "-r", *flags)
    assert run.returncode == 0, run.stderr
    return read_results(results), run.stdout


def ids_by_person(records: list[dict]) -> dict[str, list[int | None]]:
    """Each person's id in every frame they are seen, told apart by their drawn masks."""
    assert len(records) == tracking_scene.FRAMES
    ids: dict[str, list[int | None]] = {"red": [], "yellow": []}
    for t, record in enumerate(records):
        visible = tracking_scene.frame(t)[1]
        assert len(record["instances"]) == len(visible), f"frame {t}"
        for instance in record["instances"]:
            found = decode_mask(instance)
            person = max(visible, key=lambda name: iou(found, visible[name]))
            assert iou(found, visible[person]) > 0.5, f"frame {t}: an instance that is neither person"
            ids[person].append(instance["id"])
    return ids


def switches(ids: list[int | None]) -> int:
    return sum(a != b for a, b in zip(ids, ids[1:]))


@pytest.mark.slow
def test_ids_survive_the_crossing_and_the_pillar_and_come_out_the_same_every_run(models, clip, tmp_path):
    first, stdout = tracked_run(models, clip, tmp_path / "first.jsonl")
    second, _ = tracked_run(models, clip, tmp_path / "second.jsonl")
    ids = ids_by_person(first)
    hidden = [t for t in range(tracking_scene.FRAMES) if tracking_scene.hidden(t)]
    assert len(hidden) == tracking_scene.HIDDEN_FRAMES
    assert len(ids["red"]) == tracking_scene.FRAMES - tracking_scene.HIDDEN_FRAMES  # seen before and after
    assert (switches(ids["red"]), switches(ids["yellow"])) == (0, 0)
    assert (set(ids["red"]), set(ids["yellow"])) == ({1}, {2})
    assert [[i["id"] for i in r["instances"]] for r in second] == [[i["id"] for i in r["instances"]] for r in first]
    # -r prints the same ids: the first frame has red (1) and yellow (2).
    frame_0 = stdout.split("frame 1:")[0].splitlines()
    assert frame_0[0] == "frame 0: 2 instances"
    assert sorted(line.rsplit(" id ", 1)[1] for line in frame_0[1:]) == ["1", "2"]


@pytest.mark.slow
def test_a_memory_shorter_than_the_occlusion_gives_the_hidden_one_a_new_id(models, clip, tmp_path):
    records, _ = tracked_run(models, clip, tmp_path / "short.jsonl", "--track_memory", "5")
    ids = ids_by_person(records)
    # Red is seen in frames 0 to 52 and again from 73: its 54th sighting is its return.
    first_hidden = next(t for t in range(tracking_scene.FRAMES) if tracking_scene.hidden(t))
    assert set(ids["red"][:first_hidden]) == {1} and set(ids["red"][first_hidden:]) == {3}
    assert set(ids["yellow"]) == {2}


@pytest.mark.slow
def test_untracked_runs_write_null_ids_and_print_none(models, tmp_path):
    short = synthetic.write_ffv1_video(tmp_path / "short.avi", [tracking_scene.frame(t)[0] for t in range(3)])
    records, stdout = tracked_run(models, short, tmp_path / "untracked.jsonl", "--no_track")
    assert len(records) == 3 and all(len(r["instances"]) == 2 for r in records)
    assert all(i["id"] is None for r in records for i in r["instances"])
    assert " id " not in stdout


@pytest.mark.slow
def test_a_still_image_is_not_tracked(models, tmp_path):
    image = tmp_path / "scene.png"
    assert cv2.imwrite(str(image), tracking_scene.frame(0)[0])
    records, stdout = tracked_run(models, image, tmp_path / "image.jsonl")
    assert [i["id"] for i in records[0]["instances"]] == [None, None] and " id " not in stdout
