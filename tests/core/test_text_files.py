"""Text files as editors write them: UTF-8 with or without a BOM, CRLF or CR line ends; blank lines
and non-UTF-8 bytes are errors naming the file (and the line)."""
from __future__ import annotations

import json

import cv2
import pytest
from helpers import synthetic
from helpers.results import read_results
from helpers.running import ROOT, run_demo

from demo.core.errors import DemoError
from demo.model import catalogue
from demo.results.labels import load_labels

NAMES = ["person", "car", "traffic light"]
EDITOR_FORMS = {
    "plain": "person\ncar\ntraffic light\n",
    "no final newline": "person\ncar\ntraffic light",
    "BOM (Notepad)": "\ufeffperson\r\ncar\r\ntraffic light\r\n",
    "CRLF": "person\r\ncar\r\ntraffic light\r\n",
    "old Mac CR": "person\rcar\rtraffic light\r",
    "trailing blank lines and spaces": "person \n  car\ntraffic light\n\n  \n",
}


@pytest.mark.parametrize("form", EDITOR_FORMS)
def test_labels_read_the_same_in_every_editor_form(tmp_path, form):
    path = tmp_path / "labels.txt"
    path.write_bytes(EDITOR_FORMS[form].encode("utf-8"))
    assert load_labels(path) == NAMES


@pytest.mark.slow
def test_a_bom_labels_file_keeps_person_for_background_mode(models, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_bytes("\ufeffperson\r\ncar\r\n".encode("utf-8"))
    image = tmp_path / "frame.png"
    frame, _ = synthetic.draw_scene(640, 480, [synthetic.Shape.rect((0, 0, 255), 100, 80, 300, 400)])
    cv2.imwrite(str(image), frame)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", models["person-0007"].xml, "-i", image, "--mode", "background", "--labels", labels,
                   "--no_show", "--no_cache", "--results", results)

    assert run.returncode == 0, run.stderr
    assert [i["name"] for i in read_results(results)[0]["instances"]] == ["person"]


@pytest.mark.slow
@pytest.mark.parametrize("text, line", [("person\n\ncar\n", 2), ("\nperson\ncar\n", 1), ("a\r\nb\r\n \r\nc\r\n", 3)])
def test_a_blank_line_before_the_last_name_is_an_error_naming_the_line(models, tmp_path, text, line):
    labels = tmp_path / "labels.txt"
    labels.write_bytes(text.encode())
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])

    run = run_demo("-m", models["person-0007"].xml, "-i", image, "--labels", labels, "--no_show", "--no_cache")

    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: labels file {labels}, line {line}: a blank line before the last name; remove it, or write a "
        "name for that class"]


@pytest.mark.slow
def test_a_latin1_labels_file_is_one_line_naming_it(models, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_bytes("person\ncaf\u00e9\n".encode("latin-1"))
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), synthetic.draw_scene(64, 48, [])[0])

    run = run_demo("-m", models["person-0007"].xml, "-i", image, "--labels", labels, "--no_show", "--no_cache")

    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: labels file {labels} is not UTF-8 text (byte 0xe9 at offset 10); save it as UTF-8"]


def test_a_labels_folder_is_one_line(tmp_path):
    with pytest.raises(DemoError, match=f"cannot read the labels file {tmp_path}: Is a directory"):
        load_labels(tmp_path)


def test_a_model_list_from_windows_names_the_same_models(tmp_path):
    known = catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE).models
    original = (ROOT / "models.lst").read_text(encoding="utf-8")
    windows = tmp_path / "models.lst"
    windows.write_bytes(b"\xef\xbb\xbf" + original.replace("\n", "\r\n").encode())

    assert catalogue.read_model_list(windows, known) == catalogue.read_model_list(ROOT / "models.lst", known)


def test_a_latin1_model_list_is_one_line(tmp_path):
    listing = tmp_path / "models.lst"
    listing.write_bytes("# mod\u00e8les\ninstance-segmentation-person-0007\n".encode("latin-1"))

    with pytest.raises(DemoError, match=rf"^model list {listing} is not UTF-8 text \(byte 0xe8 at offset 5\)"):
        catalogue.read_model_list(listing, ["instance-segmentation-person-0007"])


def test_a_catalogue_saved_with_a_bom_loads(tmp_path):
    bundled = json.loads(catalogue.BUNDLED_CATALOGUE.read_text(encoding="utf-8"))
    copy = tmp_path / "catalogue.json"
    copy.write_bytes(b"\xef\xbb\xbf" + json.dumps(bundled, indent=1).replace("\n", "\r\n").encode())

    loaded = catalogue.load_catalogue(copy)

    assert loaded == catalogue.load_catalogue(catalogue.BUNDLED_CATALOGUE)


def test_coco_annotations_with_a_bom_load(tmp_path):
    from demo.app.evaluate import load_annotations

    annotations = tmp_path / "instances.json"
    dataset = {"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}], "annotations": [],
               "categories": [{"id": 1, "name": "person"}]}
    annotations.write_bytes(b"\xef\xbb\xbf" + json.dumps(dataset).encode())

    assert load_annotations(annotations).dataset == dataset
