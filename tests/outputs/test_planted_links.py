"""A symbolic link planted at a name the demo writes: never the way to overwrite another file of the user.

The links are made for real and owned by another user (as root, ``os.lchown`` gives a link to
nobody, uid 65534), in a shared folder the test makes: world-writable, with the sticky bit as /tmp
has it or without it as a careless shared models folder has.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers.mirror import SECURITY, settle
from helpers.running import ROOT, SHARED, one_error_line, run_demo

CLIP = ROOT / "assets" / "sample_clip.avi"  # 30 frames
YOLO11 = SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml"
NOBODY = 65534
PREVIOUS = b"a file of the user's that no run may change\n"


@pytest.fixture(autouse=True)
def _as_root():
    if os.geteuid() != 0:
        pytest.skip("giving a link to another user takes root")


def shared_folder(path: Path, sticky: bool) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o1777 if sticky else 0o777)
    return path


def plant(link: Path, target: Path, owner: int = NOBODY) -> Path:
    link.symlink_to(target)
    os.lchown(link, owner, owner)
    return link


def victim(tmp_path: Path) -> Path:
    """A file of the user's, outside the shared folder, that a planted link points to."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_bytes(PREVIOUS)
    return home / "notes.txt"


def refusal(what: str, link: Path) -> str:
    """The one line that refuses a link another user planted at the name given for ``what``."""
    return (f"error: {what} '{link}' is a symlink of another user (uid {NOBODY}) in a shared folder; "
            "it is not followed: remove it or choose another name")


def entries(folder: Path) -> dict[str, object]:
    """Every name under ``folder``: a link as where it points, a file as its bytes."""
    return {str(p.relative_to(folder)): os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def demo_args(models, *args) -> list:
    return ["-m", models["person-0007"].xml, "--no_show", "--no_cache", "-i", CLIP, *args]


@pytest.mark.slow
@pytest.mark.parametrize("flag, name", [("--results", "results.jsonl"), ("-o", "out.avi"),
                                        ("--coco_results", "coco.json")])
def test_a_link_another_user_planted_in_a_sticky_shared_folder_is_refused(models, tmp_path, flag, name):
    target = victim(tmp_path)
    shared = shared_folder(tmp_path / "tmp", sticky=True)
    link = plant(shared / name, target)
    before = entries(tmp_path)

    run = run_demo(*demo_args(models, flag, link), timeout=120)

    assert run.returncode == 1, run.stderr
    assert one_error_line(run.stderr) == refusal(flag, link)
    assert entries(tmp_path) == before
    assert target.read_bytes() == PREVIOUS


@pytest.mark.slow
@pytest.mark.parametrize("sticky", [True, False])
def test_a_link_of_the_user_is_followed_and_stays(models, tmp_path, sticky):
    """As the kernel's protected_symlinks rule has it: the user's own link, or any link outside a sticky folder."""
    target = victim(tmp_path)
    shared = shared_folder(tmp_path / "tmp", sticky=sticky)
    link = plant(shared / "results.jsonl", target, owner=os.geteuid() if sticky else NOBODY)

    run = run_demo(*demo_args(models, "--results", link), timeout=300)

    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(target.read_text().splitlines()) == 30


@pytest.mark.slow
def test_a_stamp_link_planted_in_a_shared_models_folder_is_replaced_not_followed(world, tmp_path):  # noqa: F811
    out = tmp_path / "models"
    assert run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env).returncode == 0
    folder = shared_folder(out / SECURITY / "FP32", sticky=False)
    weights = folder / f"{SECURITY}.bin"
    settle(weights)  # an old download: its verification is stamped
    target = victim(tmp_path)
    stamp = plant(folder / f".{weights.name}.verified", target)

    run = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env)

    assert run.returncode == 0, run.stderr
    assert run.stderr.count("present and verified") == 2
    assert target.read_bytes() == PREVIOUS
    assert stat.S_ISREG(stamp.lstat().st_mode)  # the link was replaced by the stamp
    assert stamp.read_text().startswith("sha384 ")


@pytest.mark.slow
@pytest.mark.parametrize("owner, mode, reason", [(0, 0o1777, "every user can write in it"),
                                                 (NOBODY, 0o755, f"it belongs to uid {NOBODY}")])
def test_a_compiled_model_cache_others_can_write_in_is_not_used(models, tmp_path, owner, mode, reason):
    """OpenVINO writes its blobs by name: a link planted at one would be followed."""
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chown(cache, owner, owner)
    os.chmod(cache, mode)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", models["person-0007"].xml, "-i", CLIP, "--no_show", "--cache_dir", cache,
                   "--results", results, timeout=300)

    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("[WARNING]")]
    assert warnings == [f"[WARNING] compiled-model cache {cache} is unusable ({reason}): running without it"]
    assert list(cache.iterdir()) == []
    assert len(results.read_text().splitlines()) == 30


@pytest.mark.slow
def test_export_refuses_a_model_folder_link_planted_in_a_shared_folder(tmp_path):
    """Else the version folder would be made inside the folder the link leads to, a folder of the user's."""
    mine = tmp_path / "home" / "projects"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_bytes(PREVIOUS)
    shared = shared_folder(tmp_path / "tmp", sticky=True)
    link = plant(shared / "yolo11n-seg", mine)
    before = entries(tmp_path)

    run = run_demo("export", YOLO11, shared, timeout=120)

    assert run.returncode == 1, run.stderr
    assert one_error_line(run.stderr) == refusal("export", link)
    assert entries(tmp_path) == before


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--save_masks", "--yolo_labels"])
def test_an_export_folder_link_planted_in_a_sticky_shared_folder_is_refused(models, tmp_path, flag):
    """Else the per-frame files would be written in the folder the link leads to, a folder of the user's."""
    mine = victim(tmp_path).parent
    link = plant(shared_folder(tmp_path / "tmp", sticky=True) / "labels", mine)
    before = entries(tmp_path)

    run = run_demo(*demo_args(models, flag, link), timeout=120)

    assert run.returncode == 1, run.stderr
    assert one_error_line(run.stderr) == refusal(flag, link)
    assert entries(tmp_path) == before


def test_a_model_folder_link_planted_in_a_shared_models_folder_is_refused(world, tmp_path):  # noqa: F811
    """Else the download would replace a file of the user's that has the model file's name."""
    mine = victim(tmp_path).parent
    (mine / f"{SECURITY}.bin").write_bytes(PREVIOUS)
    out = shared_folder(tmp_path / "models", sticky=True)
    link = plant(out / SECURITY, mine)
    before = entries(tmp_path)

    run = run_demo("download", SECURITY, "--precision", "FP32", "--output_dir", out, env=world.env)

    assert run.returncode == 1, run.stderr
    assert one_error_line(run.stderr) == refusal("models folder", link)
    assert entries(tmp_path) == before
    assert world.server.state.requests == []
