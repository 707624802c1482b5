"""The installable package: pyproject.toml against the pinned requirements, the extras' one-line errors, and a
fresh virtual environment that installs the source tree and runs the demo from another folder."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.results import read_results
from helpers.running import ROOT, one_error_line, run_demo
from helpers.scenes import write_scene
from packaging.requirements import Requirement

DISTRIBUTION = "openvino-segmentation-demo"
SCRIPT = "ov-segment"


def requirements_in(path: Path) -> set[str]:
    """The requirements a pip requirements file lists, normalised; its -r lines left out."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {str(Requirement(line)) for line in lines if line and not line.startswith("-r")}


def normalised(requirements: list[str]) -> set[str]:
    return {str(Requirement(r)) for r in requirements}


def test_pyproject_carries_the_pinned_requirements_exactly():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert project["name"] == DISTRIBUTION
    assert requirements_in(ROOT / "requirements.txt") == normalised(
        project["dependencies"] + extras["remote"] + extras["camera"])
    itself = f"{DISTRIBUTION}[remote,camera]"
    assert itself in extras["test"]
    assert requirements_in(ROOT / "requirements-test.txt") == normalised([r for r in extras["test"] if r != itself])
    assert project["scripts"] == {SCRIPT: "demo.app.console:main"}


@pytest.fixture
def hidden(tmp_path):
    """A folder that, put first on PYTHONPATH, makes a module fail to import as a missing one does."""
    def hide(module: str) -> dict[str, str]:
        package = tmp_path / "hidden" / module
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{module}'\")\n")
        return {"PYTHONPATH": os.pathsep.join([str(tmp_path / "hidden"), str(ROOT)])}
    return hide


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_remote_inference_without_its_extra_is_one_line(hidden, tmp_path, scheme):
    image = tmp_path / "scene.png"
    write_scene(image, 320, 240)

    run = run_demo("-m", f"{scheme}://127.0.0.1:9/v2/models/segmenter", "-i", image, "--no_show",
                   env=hidden("tritonclient"))

    assert run.returncode == 2
    assert one_error_line(run.stderr) == (
        "error: remote inference needs the 'remote' extra (No module named 'tritonclient'): "
        "pip install '.[remote]' in the demo's folder, or pip install -r requirements.txt")


@pytest.mark.slow
def test_the_virtual_camera_without_its_extra_is_one_line(hidden, models, tmp_path):
    image = tmp_path / "scene.png"
    write_scene(image, 320, 240)

    run = run_demo("-m", models["security-0091"].xml, "-i", image, "--no_show", "--virtual_camera",
                   env=hidden("pyvirtualcam"))

    assert run.returncode == 2
    assert one_error_line(run.stderr) == (
        "error: --virtual_camera needs the 'camera' extra (No module named 'pyvirtualcam'): "
        "pip install '.[camera]' in the demo's folder, or pip install -r requirements.txt")


def source_tree(destination: Path) -> Path:
    """The files a clone of this checkout has (its edits included), copied: pip builds in the source folder."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def fresh_venv(folder: Path) -> Path:
    """A new virtual environment that sees this one's packages as installed ones (a .pth file), so that pip
    finds the dependencies there and needs no index; its own site-packages comes first. Without a pip of its
    own: this one's, and its setuptools, are found the same way (ensurepip's setuptools 65 cannot build wheels
    without the wheel package)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    own = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    # Only the installed packages' folders: the source tree on this sys.path would hide the installed copy.
    ours = dict.fromkeys(p for p in sys.path if Path(p).name in ("site-packages", "dist-packages"))
    (Path(own) / "outer_environment.pth").write_text("\n".join(ours) + "\n")
    return python


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
@pytest.mark.skipif(sys.platform == "win32", reason="the venv's layout here is POSIX's")
def test_pip_install_in_a_fresh_venv_runs_the_demo_from_another_folder(models, tmp_path):
    source = source_tree(tmp_path / "clone")
    python = fresh_venv(tmp_path / "venv")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation", str(source)],
                   check=True, cwd=tmp_path)
    shutil.rmtree(source)  # what runs now is the installed copy, nothing else
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    image, results = elsewhere / "scene.png", elsewhere / "results.jsonl"
    write_scene(image, 640, 480)
    plain_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*command: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run(list(map(str, command)), cwd=elsewhere, env=plain_env, capture_output=True, text=True,
                              timeout=300)

    module_help, script_help = run(python, "-m", "demo", "--help"), run(python.parent / SCRIPT, "--help")
    assert module_help.returncode == 0 and script_help.returncode == 0, module_help.stderr + script_help.stderr
    assert module_help.stdout.startswith("usage: ") and "--max_det" in module_help.stdout
    assert script_help.stdout == module_help.stdout
    # A real run through the console script; the names come from the COCO labels installed with the package.
    segmented = run(python.parent / SCRIPT, "-m", models["security-0091"].xml, "-i", image, "--no_show",
                    "--results", results)
    assert segmented.returncode == 0, segmented.stderr
    assert {i["name"] for i in read_results(results)[0]["instances"]} == {"person", "car", "dog"}
