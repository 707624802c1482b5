"""The compiled-model cache is only an optimisation: wherever it cannot be written the run goes on without it."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from helpers import filesystems, synthetic
from helpers.results import read_results
from helpers.running import run_demo

CACHE = Path("openvino-segmentation-demo") / "compiled"


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    image = tmp_path_factory.mktemp("scene") / "frame.png"
    frame, _ = synthetic.draw_scene(320, 240, [synthetic.Shape.rect((0, 0, 255), 40, 30, 200, 220)])
    cv2.imwrite(str(image), frame)
    return image


def run_with_cache(models, scene: Path, tmp_path: Path, env: dict[str, str]):
    results = tmp_path / "results.jsonl"
    run = run_demo("-m", models["person-0007"].xml, "-i", scene, "--no_show", "--results", results, env=env)
    return run, results


def assert_ran_without_cache(run, results: Path, folder: Path, reason: str) -> None:
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("[WARNING]")]
    assert warnings == [f"[WARNING] compiled-model cache {folder} is unusable ({reason}): running without it"]
    assert "Traceback" not in run.stderr and "error" not in run.stderr
    assert [i["name"] for i in read_results(results)[0]["instances"]] == ["person"]


@pytest.mark.slow
def test_a_writable_cache_is_filled(models, scene, tmp_path):
    run, results = run_with_cache(models, scene, tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "cache")})

    assert run.returncode == 0 and "[WARNING]" not in run.stderr, run.stderr
    assert list((tmp_path / "cache" / CACHE).glob("*.blob"))


def test_a_read_only_xdg_cache_home(models, scene, tmp_path):
    with filesystems.tmpfs(tmp_path / "ro", read_only=True) as cache:
        run, results = run_with_cache(models, scene, tmp_path, {"XDG_CACHE_HOME": str(cache)})

    assert_ran_without_cache(run, results, cache / CACHE, "Read-only file system")


def test_a_read_only_home(models, scene, tmp_path):
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    with filesystems.read_only_bind(home):
        run, results = run_with_cache(models, scene, tmp_path, {"HOME": str(home), "XDG_CACHE_HOME": ""})

    assert_ran_without_cache(run, results, home / ".cache" / CACHE, "Read-only file system")


def test_a_file_where_the_cache_folder_should_be(models, scene, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "openvino-segmentation-demo").write_text("not a folder")

    run, results = run_with_cache(models, scene, tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "cache")})

    assert_ran_without_cache(run, results, tmp_path / "cache" / CACHE, "Not a directory")
    assert (tmp_path / "cache" / "openvino-segmentation-demo").read_text() == "not a folder"


def test_a_full_cache_disk(models, scene, tmp_path):
    with filesystems.tmpfs(tmp_path / "full", size="64k") as disk:
        (disk / CACHE).mkdir(parents=True)
        with filesystems.full_tmpfs(disk / CACHE):
            run, results = run_with_cache(models, scene, tmp_path, {"XDG_CACHE_HOME": str(disk)})

    assert_ran_without_cache(run, results, disk / CACHE, "No space left on device")
