"""Flags are declared once, as data: the command line, the Python settings and docs/cli.md come from the same
declarations and cannot drift apart."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from demo.app import flags
from demo.core.errors import UsageError
from demo.core.flag import declared_flags
from demo.frames.live import LiveSettings
from demo.model.download import default_models_dir
from demo.model.segmenter import Settings
from demo.outputs.exports import ExportSettings
from demo.outputs.sinks import VideoSettings
from demo.picture.background import BackgroundSettings
from demo.results.tracker import TrackerSettings

ROOT = Path(__file__).resolve().parents[2]
# Each flagged field of Settings: a value other than its default, as typed and as the field holds it.
MODEL_SAMPLES = {
    "threshold": ("0.25", 0.25), "iou_threshold": ("0.4", 0.4), "max_det": ("7", 7),
    "classes": ("person,2", ("person", "2")), "resize": ("letterbox", "letterbox"), "preprocess": ("model", "model"),
    "labels": ("names.txt", Path("names.txt")), "model_type": ("yolact", "yolact"), "hint": ("latency", "latency"),
    "streams": ("auto", "AUTO"), "threads": ("3", 3), "requests": ("5", 5),
    "cache_dir": ("/tmp/compiled", Path("/tmp/compiled")), "precision": ("FP32", "FP32"),
    "models_dir": ("/tmp/models", Path("/tmp/models")),
}


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)


def test_docs_cli_md_is_what_the_declarations_write():
    written = run_python("-m", "demo.app.reference")

    assert written.returncode == 0, written.stderr
    assert written.stdout == (ROOT / "docs" / "cli.md").read_text(encoding="utf-8"), \
        "docs/cli.md is stale: python -m demo.app.reference > docs/cli.md"


@pytest.mark.parametrize("command", flags.COMMANDS, ids=lambda command: command.prog)
def test_help_and_reference_give_every_flag_its_declared_help(command):
    words = command.prog.split()[3:]  # python -m demo [eval|download|export]
    shown = run_python("-m", "demo", *words, "--help")
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = page.split(f"## {command.prog}\n", 1)[1].split("\n## ", 1)[0]

    assert shown.returncode == 0, shown.stderr
    squeezed = "".join(shown.stdout.split())  # argparse wraps lines, and at hyphens
    for group in command.groups:
        for flag in group.flags:
            start = flag.help.split("%(")[0].replace("%%", "%")
            assert "".join(start.split()) in squeezed, (flag.spellings, start)
            assert all(name in shown.stdout for name in flag.spellings)
            assert f"- {', '.join(f'`{name}`' for name in flag.spellings)}" in section


def test_every_flagged_model_setting_is_filled_from_its_flag():
    declared = declared_flags(Settings)
    assert set(declared) == set(MODEL_SAMPLES), "give each flagged Settings field a sample here"
    typed = [f"{declared[name].spellings[-1]}={text}" for name, (text, _) in MODEL_SAMPLES.items()]

    settings = flags.model_settings(flags.build_parser().parse_args(typed))

    assert {name: getattr(settings, name) for name in MODEL_SAMPLES} == \
        {name: value for name, (_, value) in MODEL_SAMPLES.items()}


def test_the_command_lines_defaults_are_the_python_settings_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("DEMO_MODELS_DIR", str(tmp_path / "models"))
    args = flags.build_parser().parse_args([])
    settings, python = flags.model_settings(args), Settings()

    # The one documented difference: the command line names the folder that None stands for in Python.
    assert (python.models_dir, settings.models_dir) == (None, default_models_dir()) == (None, tmp_path / "models")
    assert {name: getattr(settings, name) for name in declared_flags(Settings) if name != "models_dir"} == \
        {name: getattr(python, name) for name in declared_flags(Settings) if name != "models_dir"}
    assert flags.live_settings(args) == LiveSettings()
    assert flags.tracker_settings(args) == TrackerSettings()
    assert flags.export_settings(args) == ExportSettings()
    assert flags.video_settings(args) == VideoSettings()
    assert flags.background_settings(flags.build_parser().parse_args(["--mode", "background"])) == \
        BackgroundSettings()


def test_eval_keeps_its_own_threshold_and_max_det():
    settings = flags.model_settings(flags.eval_parser().parse_args(["--annotations", "a.json", "--images", "."]))

    assert (settings.threshold, settings.max_det) == (0.001, 100)


def test_export_fills_the_settings_it_declares_and_leaves_the_rest():
    request = flags.repository_request(flags.repository_parser().parse_args(
        ["m.xml", "repo", "--resize_type", "fit", "--model_type", "yolo", "--precision", "FP32"]))

    assert (request.settings.resize, request.settings.model_type, request.settings.precision) == \
        ("fit", "yolo", "FP32")
    assert request.settings.threshold == Settings().threshold


@pytest.mark.parametrize("given", [["--target_color", "1,2,3", "--blur_bgr", "3"],
                                   ["--blur_people", "5", "--pixelate", "4"]])
def test_flags_declared_exclusive_exclude_each_other(given):
    with pytest.raises(UsageError, match=f"^argument {given[2]}: not allowed with argument {given[0]}$"):
        flags.build_parser().parse_args(given)
