"""Every file and folder a run writes is known before the first frame: two that could meet (a file inside an
export folder, two exports in one folder, names that collide after a naming rule) are refused in one line with
nothing written, and export file names are unique per input by construction."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import synthetic
from helpers.export_checks import check_files_match_results, export_args
from helpers.running import ROOT, one_error_line, run_demo
from helpers.scenes import write_scene
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.core.files import common_name
from demo.outputs.exports import frame_file_stems

EXPORT_FOLDERS = ["--save_masks", "--yolo_labels"]


@pytest.fixture(scope="module")
def yolo_model(tmp_path_factory) -> Path:
    return synthetic.build_yolo_seg_model(tmp_path_factory.mktemp("plan") / "yolo.xml", synthetic.DEFAULT_DETECTORS)


@pytest.fixture
def home(tmp_path) -> Path:
    """The user's folder: a picture to read, and a folder D holding a file of theirs and a folder below it."""
    write_scene(tmp_path / "photo.png", 320, 240)
    (tmp_path / "D" / "sub").mkdir(parents=True)
    (tmp_path / "D" / "mine.txt").write_text("mine")
    return tmp_path


def tree(folder: Path) -> dict[str, bytes | str | None]:
    """Every entry below ``folder``: a file's bytes, a link's target, None for a folder."""
    def content(path: Path) -> bytes | str | None:
        if path.is_symlink():
            return os.readlink(path)
        return None if path.is_dir() else path.read_bytes()
    return {str(path.relative_to(folder)): content(path) for path in sorted(folder.rglob("*"))}


def refused(model: Path, home: Path, args: list, message: str) -> None:
    """The run is exit 2 and ``message``, and every file and folder below ``home`` is as it was, none added."""
    before = tree(home)
    run = run_demo("-m", model, "--no_show", "--no_cache", *args, timeout=120)
    assert run.returncode == 2, run.stderr
    assert one_error_line(run.stderr) == f"error: {message}"
    assert tree(home) == before


# Each file output, as its flags, given the folder D it writes into.
FILE_OUTPUTS = {
    "-o file": lambda d: ["-o", d / "out.avi"],
    "-o pattern": lambda d: ["-o", d / "%06d.png"],
    "--results": lambda d: ["--results", d / "000000.txt"],
    "--report": lambda d: ["--benchmark", "-niter", "1", "--report", d / "report.json"],
    "--coco_results": lambda d: ["--coco_results", d / "coco.json"],
}


@pytest.mark.parametrize("flag", EXPORT_FOLDERS)
@pytest.mark.parametrize("output", FILE_OUTPUTS)
def test_a_file_output_inside_an_export_folder_is_refused(yolo_model, home, flag, output):
    given = FILE_OUTPUTS[output](home / "D")
    refused(yolo_model, home, ["-i", home / "photo.png", *given, flag, home / "D"],
            f"{given[-2]} '{given[-1]}' is inside {flag} '{home / 'D'}', which that export fills; "
            "give each output its own place")


def test_an_output_deeper_inside_an_export_folder_is_refused(yolo_model, home):
    results = home / "D" / "sub" / "r.jsonl"
    refused(yolo_model, home, ["-i", home / "photo.png", "--results", results, "--save_masks", home / "D"],
            f"--results '{results}' is inside --save_masks '{home / 'D'}', which that export fills; "
            "give each output its own place")


@pytest.mark.slow
def test_two_export_folders_that_are_one_folder_are_refused(yolo_model, home):
    folder, link = home / "D", home / "link"
    link.symlink_to(folder)
    relative = Path(os.path.relpath(folder, ROOT))
    for masks, labels in ((folder, folder), (link, folder), (folder, relative)):
        refused(yolo_model, home, ["-i", home / "photo.png", "--save_masks", masks, "--yolo_labels", labels],
                f"--save_masks '{masks}' and --yolo_labels '{labels}' are the same folder; "
                "give each output its own place")


@pytest.mark.slow
def test_an_export_folder_inside_another_is_refused(yolo_model, home):
    outer, inner, link = home / "D", home / "D" / "sub", home / "link"
    link.symlink_to(outer)
    refused(yolo_model, home, ["-i", home / "photo.png", "--save_masks", outer, "--yolo_labels", inner],
            f"--yolo_labels '{inner}' is inside --save_masks '{outer}', which that export fills; "
            "give each output its own place")
    refused(yolo_model, home, ["-i", home / "photo.png", "--save_masks", inner, "--yolo_labels", link],
            f"--save_masks '{inner}' is inside --yolo_labels '{link}', which that export fills; "
            "give each output its own place")


@pytest.mark.slow
def test_images_whose_stems_meet_get_one_export_file_each(yolo_model, tmp_path):
    """a.jpg, a.png and a.png.png: three frames, three files in each export, each holding its own frame (the
    images differ in size); b.jpg, whose stem is its own, keeps the name a tool pairs with it."""
    images = tmp_path / "images"
    images.mkdir()
    for number, name in enumerate(["a.jpg", "a.png", "a.png.png", "b.jpg"]):
        write_scene(images / name, 320 + 32 * number, 240 + 24 * number)
    run = run_demo(*export_args(yolo_model, images, tmp_path))
    assert run.returncode == 0, run.stderr
    check_files_match_results(tmp_path, ["a.jpg", "a.png", "a.png.png", "b"])


def test_export_names_of_known_folders():
    assert frame_file_stems(["a.jpg", "a.png", "a.png.png", "b.jpg", "c", "c.png.jpg"]) == {
        "a.jpg": "a.jpg", "a.png": "a.png", "a.png.png": "a.png.png", "b.jpg": "b", "c": "c",
        "c.png.jpg": "c.png"}


@settings(max_examples=300, deadline=None)
@given(st.sets(st.text("ab.", min_size=1, max_size=6).filter(lambda name: name not in (".", "..")), max_size=8))
def test_export_names_never_meet_and_a_stem_of_its_own_is_kept(images):
    stems = frame_file_stems(images)
    assert len(set(stems.values())) == len(images)
    for name in images:
        stem = Path(name).stem
        alone = [Path(other).stem for other in images].count(stem) == 1 and (stem == name or stem not in images)
        assert stems[name] == (stem if alone else name)


FIELDS = st.sampled_from(["%d", "%02d", "%3d"])
AFFIXES = st.text("x1", max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.tuples(AFFIXES, FIELDS, AFFIXES), st.tuples(AFFIXES, FIELDS, AFFIXES))
def test_two_number_patterns_meet_when_they_write_one_name(pattern, other):
    """A name found is one both write; a name both write for numbers below 2000 is always found."""
    name = common_name("".join(pattern), "".join(other))
    if name is not None:
        assert all(writes(parts, name) for parts in (pattern, other))
    written = [{head + field % n + tail for n in range(2000)} for head, field, tail in (pattern, other)]
    assert name is not None or not written[0] & written[1]


def writes(parts: tuple[str, str, str], name: str) -> bool:
    """Whether head + field % n + tail is ``name`` for some n >= 0."""
    head, field, tail = parts
    number = name[len(head):len(name) - len(tail)]
    return (name.startswith(head) and name.endswith(tail) and number.strip().isdigit()
            and head + field % int(number) + tail == name)


@pytest.mark.parametrize("pattern, other, name", [
    ("x%d.png", "x1%d.png", "x11.png"),
    ("%06d.png", "%06d.png", "111111.png"),
    ("a%d_b5.png", "a1_b%d.png", "a1_b5.png"),
    ("a%d.png", "b%d.png", None),
    ("x%d.png", "x0%d.png", None),  # %d never writes a leading zero
    ("a_%d.png", "a_%d_b.png", None),
])
def test_a_name_two_number_patterns_both_write(pattern, other, name):
    assert common_name(pattern, other) == name


@pytest.fixture
def clips(tmp_path) -> list[Path]:
    """x.avi and x1.avi, and a second x.avi in another folder: two frames each."""
    frames = [np.full((120, 160, 3), value, np.uint8) for value in (40, 200)]
    paths = [tmp_path / "x.avi", tmp_path / "x1.avi", tmp_path / "other" / "x.avi"]
    paths[2].parent.mkdir()
    for path in paths:
        synthetic.write_ffv1_video(path, frames, fps=10)
    return paths


@pytest.mark.slow
def test_several_sources_whose_outputs_meet_are_refused(yolo_model, tmp_path, clips):
    out = tmp_path / "out"
    out.mkdir()
    refused(yolo_model, tmp_path, ["-i", clips[0], "-i", clips[1], "-o", out / "{source}%d.png"],
            f"-o '{out / 'x%d.png'}' and -o '{out / 'x1%d.png'}' both write '{out / 'x11.png'}'; "
            "give each output its own names")
    refused(yolo_model, tmp_path, ["-i", clips[0], "-i", clips[1], "-o", out / "{source}.avi",
                                   "--results", out / "x1.avi"],
            f"-o and --results both write '{out / 'x1.avi'}'; give each output its own file")


@pytest.mark.slow
def test_several_sources_of_one_name_get_an_output_each(yolo_model, tmp_path, clips):
    out = tmp_path / "out"
    out.mkdir()
    run = run_demo("-m", yolo_model, "--no_show", "--no_cache", "-i", clips[0], "-i", clips[2],
                   "-o", out / "{source}_%02d.png")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["x-2_00.png", "x-2_01.png", "x_00.png", "x_01.png"]
