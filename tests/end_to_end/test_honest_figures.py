"""The figures a run reports are what happened: a count of one reads as one."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from helpers import synthetic
from helpers.running import ROOT, run_demo

CLIP = ROOT / "assets" / "sample_clip.avi"
RED = (0, 0, 255)  # the synthetic models' person


def one_person(path: Path) -> Path:
    cv2.imwrite(str(path), synthetic.draw_scene(320, 240, [synthetic.Shape.rect(RED, 40, 30, 120, 220)])[0])
    return path


def test_one_instance_reads_as_one(models, tmp_path):
    run = run_demo("-m", models["person-0007"].xml, "-i", one_person(tmp_path / "one.png"), "--no_show",
                   "--no_cache", "-r")

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "frame 0: 1 instance"


@pytest.mark.slow
def test_a_source_of_one_frame_reads_as_one(models, tmp_path):
    run = run_demo("-m", models["person-0007"].xml, "-i", one_person(tmp_path / "one.png"), "-i", CLIP, "--no_show",
                   "--no_cache")

    assert run.returncode == 0, run.stderr
    assert "[INFO] source one ended after 1 frame\n" in run.stderr
    assert "source one: frames: 1," in run.stderr
