"""--max_frames ends each input after its first N frames as if it ended there: the files finished, the summary
printed, exit 0; -limit still stops only the writing."""
from __future__ import annotations

import pytest
from helpers import synthetic
from helpers.results import count_frames, read_results
from helpers.running import ROOT, one_error_line, run_demo

CLIP = ROOT / "assets" / "sample_clip.avi"  # 30 frames


@pytest.mark.slow
@pytest.mark.parametrize("limit, written", [(0, 7), (3, 3)])
def test_the_run_ends_after_n_frames_with_its_video_finished(models, tmp_path, limit, written):
    video, results = tmp_path / "out.mp4", tmp_path / "frames.jsonl"

    run = run_demo("-m", models["person-0007"].xml, "-i", CLIP, "--max_frames", "7", "-limit", str(limit),
                   "--no_show", "--no_cache", "-o", video, "--results", results)

    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[1].startswith("frames: 7, FPS: ")
    assert count_frames(video) == written
    assert [record["frame"] for record in read_results(results)] == list(range(written))


@pytest.mark.slow
def test_each_of_several_inputs_ends_after_n_frames(models, tmp_path):
    short = synthetic.write_ffv1_video(tmp_path / "short.mkv", [
        synthetic.draw_scene(160, 120, [synthetic.Shape.rect((0, 0, 255), 10, 10, 60, 100)])[0]] * 3)

    run = run_demo("-m", models["person-0007"].xml, "-i", CLIP, "-i", short, "--loop", "--max_frames", "5",
                   "--no_show", "--no_cache", "-o", tmp_path / "{source}.avi")

    assert run.returncode == 0, run.stderr
    assert "[INFO] source sample_clip ended after 5 frames" in run.stderr
    assert "[INFO] source short ended after 5 frames" in run.stderr  # looped past its 3 frames
    assert "all 2 sources: frames: 10," in run.stderr
    assert [count_frames(tmp_path / f"{name}.avi") for name in ("sample_clip", "short")] == [5, 5]


def test_a_benchmark_counts_its_own_frames(models):
    run = run_demo("-m", models["person-0007"].xml, "-i", CLIP, "--benchmark", "--max_frames", "5")

    assert run.returncode == 2
    assert one_error_line(run.stderr) == ("error: --max_frames stops a run; --benchmark measures -niter N frames or "
                                          "--time SECONDS")
