"""Real trained YOLO-seg models on real photos and video, through ``python -m demo``.

``../shared/models`` holds Ultralytics YOLO11n-seg (INT8 OpenVINO IR) and YOLOv8n-seg
(INT8 TFLite); ``../shared/media`` the photos and the clip. What is expected is what a
person sees in them. The 1394-frame clip is cut to two walk-ins (52 frames) to stay fast.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import synthetic
from helpers.results import decode_mask, iou, read_results
from helpers.running import SHARED, run_demo

MODELS = {
    "ir": SHARED / "models" / "yolo11n-seg_int8_openvino_model" / "yolo11n-seg.xml",
    "tflite": SHARED / "models" / "yolov8n-seg_int8_tflite" / "yolov8n-seg_int8.tflite",
}
PHOTOS = SHARED / "media" / "images"
CLIP = SHARED / "media" / "one-by-one-person-detection.mp4"

if not all(path.is_file() for path in [*MODELS.values(), CLIP]) or not PHOTOS.is_dir():
    pytest.skip(f"the real models and media are absent: {SHARED} is not beside the project",
                allow_module_level=True)

# Least count of each class a person sees in the photo.
PHOTO_OBJECTS = {
    "darknet_kite.jpg": {"person": 2, "kite": 2},
    "darknet_dog.jpg": {"dog": 1, "bicycle": 1},
    "enox_street.png": {"person": 5, "car": 2},
}
# The dog photo's white pickup, top right. YOLO11n-seg calls it a car (0.72; truck 0.14).
PICKUP_NAMES = {"truck", "car"}
# Source frames cut from the clip: the room empty, then someone walks in, twice.
SEGMENTS = [(50, 76), (915, 941)]
EMPTY_FRAMES = [*range(50, 59), *range(915, 923)]
PERSON_FRAMES = [*range(64, 76), *range(930, 941)]
CLIP_FRAMES = [n for start, stop in SEGMENTS for n in range(start, stop)]
MIN_AGREEMENT_IOU = 0.8


@pytest.fixture(scope="module")
def photo_results(tmp_path_factory) -> dict[str, dict[str, list[dict]]]:
    """Per model, per photo name, the instances the demo found."""
    names = sorted(path.name for path in PHOTOS.iterdir() if path.is_file())  # the demo's order
    found = {}
    for model, path in MODELS.items():
        results = tmp_path_factory.mktemp(model) / "photos.jsonl"
        run = run_demo("-m", path, "-i", PHOTOS, "--no_show", "--results", results, "--no_cache")
        assert run.returncode == 0, run.stderr
        found[model] = {names[r["frame"]]: r["instances"] for r in read_results(results)}
    return found


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    for number in range(CLIP_FRAMES[-1] + 1):
        ok, frame = capture.read()
        assert ok, f"{CLIP} ends before frame {number}"
        if number in CLIP_FRAMES:
            frames.append(frame)
    capture.release()
    return synthetic.write_ffv1_video(tmp_path_factory.mktemp("clip") / "walk_ins.avi", frames)


@pytest.fixture(scope="module")
def clip_runs(clip, tmp_path_factory) -> dict[str, tuple[dict[int, list[dict]], Path]]:
    """Per model, the clip's instances by source frame number, and the video the demo wrote."""
    runs = {}
    for model, path in MODELS.items():
        folder = tmp_path_factory.mktemp(f"clip_{model}")
        results, video = folder / "results.jsonl", folder / "out.avi"
        run = run_demo("-m", path, "-i", clip, "--no_show", "--results", results, "-o", video, "--no_cache")
        assert run.returncode == 0, run.stderr
        runs[model] = ({CLIP_FRAMES[r["frame"]]: r["instances"] for r in read_results(results)}, video)
    return runs


def people(instances: list[dict]) -> list[dict]:
    return [i for i in instances if i["name"] == "person"]


def check_mask_fits_box(instance: dict) -> None:
    mask = decode_mask(instance)
    x1, y1, x2, y2 = instance["box"]
    box_area = (x2 - x1) * (y2 - y1)
    inside = mask[int(np.floor(y1)):int(np.ceil(y2)), int(np.floor(x1)):int(np.ceil(x2))]
    area = np.count_nonzero(mask)
    assert area and np.count_nonzero(inside) == area, instance["name"]
    assert area >= 0.15 * box_area, (instance["name"], area, box_area)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_photos_show_what_a_person_sees(photo_results, model):
    found = photo_results[model]
    for photo, least in PHOTO_OBJECTS.items():
        counts = Counter(i["name"] for i in found[photo])
        assert all(counts[name] >= n for name, n in least.items()), (photo, counts)
    height, width = cv2.imread(str(PHOTOS / "darknet_dog.jpg")).shape[:2]
    pickups = [i for i in found["darknet_dog.jpg"] if i["name"] in PICKUP_NAMES
               and (i["box"][0] + i["box"][2]) / 2 > width / 2 and (i["box"][1] + i["box"][3]) / 2 < height / 2]
    assert len(pickups) == 1, found["darknet_dog.jpg"]
    for instances in found.values():
        for instance in instances:
            check_mask_fits_box(instance)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_clip_every_frame_written_and_people_found_when_they_walk_in(clip_runs, model):
    by_frame, video = clip_runs[model]
    assert sorted(by_frame) == CLIP_FRAMES
    assert [n for n in EMPTY_FRAMES if people(by_frame[n])] == []
    assert [n for n in PERSON_FRAMES if len(people(by_frame[n])) != 1] == []
    for n in PERSON_FRAMES:
        check_mask_fits_box(people(by_frame[n])[0])
    written = synthetic.read_video(video)
    assert len(written) == len(CLIP_FRAMES)
    assert written[0].shape == (432, 768, 3)


def test_ir_and_tflite_find_the_same_people(clip_runs):
    ir, tflite = clip_runs["ir"][0], clip_runs["tflite"][0]
    for n in EMPTY_FRAMES + PERSON_FRAMES:
        assert len(people(ir[n])) == len(people(tflite[n])), n
    # Each person the IR finds is matched to the TFLite person whose mask overlaps it most.
    overlaps = {n: [max(iou(decode_mask(a), decode_mask(b)) for b in people(tflite[n])) for a in people(ir[n])]
                for n in PERSON_FRAMES}
    assert min(min(values) for values in overlaps.values()) >= MIN_AGREEMENT_IOU, overlaps
