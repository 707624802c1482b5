"""Odd frames, odd model outputs and failures inside the pipeline: handled, never a crash."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import openvino as ov
import openvino.opset13 as ops
import pytest
from helpers import synthetic
from helpers.results import read_results
from helpers.running import run_demo
from hypothesis import given, settings
from hypothesis import strategies as st

import demo
from demo.frames.sources import open_source
from demo.model.contracts import DecodeLimits, Detections, MaskRCNNContract
from demo.model.geometry import ResizePolicy, geometry_for
from demo.model.postprocess import box_region, paste_mask, to_instances
from demo.model.segmenter import Segmenter
from demo.results.instances import Box

coordinates = st.floats(min_value=-3000, max_value=3000, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(x1=coordinates, y1=coordinates, x2=coordinates, y2=coordinates,
       frame=st.tuples(st.integers(1, 2000), st.integers(1, 2000)),
       heatmap=st.sampled_from(["zeros", "ones", "random", "nan"]), size=st.sampled_from([1, 2, 14, 28, 224]))
def test_paste_stays_inside_the_box_and_the_frame(x1, y1, x2, y2, frame, heatmap, size):
    values = {"zeros": np.zeros, "ones": np.ones, "nan": lambda s, dtype: np.full(s, np.nan, dtype),
              "random": lambda s, dtype: np.random.default_rng(0).random(s, dtype=dtype)}[heatmap]
    box = Box(x1, y1, x2, y2)
    pasted = paste_mask(values((size, size), dtype=np.float32), box, frame)
    if pasted is None:
        return
    mask, (x, y) = pasted.bits, pasted.origin
    region = box_region(box, frame)
    assert region is not None and pasted.region == region
    assert mask.dtype == bool
    assert 0 <= x and 0 <= y and x + mask.shape[1] <= frame[1] and y + mask.shape[0] <= frame[0]
    assert x1 - 0.5 <= x and x + mask.shape[1] <= x2 + 0.5


@settings(max_examples=300, deadline=None)
@given(frame=st.tuples(st.integers(1, 8000), st.integers(1, 8000)),
       network=st.tuples(st.integers(16, 2000), st.integers(16, 2000)),
       policy=st.sampled_from(list(ResizePolicy)),
       box=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)))
def test_boxes_map_back_to_where_they_were_in_the_frame(frame, network, policy, box):
    geometry = geometry_for(frame, network, policy)
    in_frame = np.array(box) * np.tile(frame, 2)
    affine = geometry.frame_to_model()
    in_model = np.concatenate([affine[:, :2] @ in_frame[:2] + affine[:, 2], affine[:, :2] @ in_frame[2:] + affine[:, 2]])
    assert np.allclose(geometry.boxes_to_frame(in_model[None])[0], in_frame, atol=1e-6 * max(frame))
    assert np.all(in_model[[0, 2]] <= network[0] + 1e-6) and np.all(in_model[[1, 3]] <= network[1] + 1e-6)


def test_odd_detections_are_dropped_not_crashed_on():
    """NaN and infinite scores and boxes, inverted or outside boxes, flat heatmaps, a thousand rows."""
    count = 1000
    boxes = np.tile(np.array([[10, 10, 50, 50]], np.float32), (count, 1))
    boxes[1] = [np.nan, 0, 10, 10]
    boxes[2] = [0, 0, np.inf, 10]
    boxes[3] = [50, 50, 10, 10]  # inverted
    boxes[4] = [500, 500, 600, 600]  # outside a 100x100 frame
    scores = np.full(count, 0.9, np.float32)
    scores[5], scores[6] = np.nan, np.inf
    heatmaps = np.ones((count, 28, 28), np.float32)
    heatmaps[7] = 0
    heatmaps[8] = np.nan
    labels = np.zeros(count, np.int32)
    labels[9] = 10_000  # a class the labels file does not have
    outputs = [labels, np.hstack([boxes, scores[:, None]]), heatmaps]
    detections = MaskRCNNContract(labels=0, boxes=1, masks=2).decode(outputs, DecodeLimits(0.5, max_det=count))
    assert len(MaskRCNNContract(labels=0, boxes=1, masks=2).decode(outputs, DecodeLimits(0.5))) == 100
    geometry = geometry_for((100, 100), (100, 100), ResizePolicy.STRETCH)

    instances = to_instances(detections, geometry, (100, 100, 3), ["person"])

    assert len(detections) == count - 5  # NaN and infinite scores, NaN and infinite boxes, the NaN heatmap
    assert len(instances) == count - 7  # and the inverted and outside boxes
    assert all(i.box.x1 >= 0 and i.box.x2 <= 100 for i in instances)
    assert {i.name for i in instances} == {"person", "10000"}
    assert sum(i.area == 0 for i in instances) == 1  # the all-zero heatmap


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory):
    """A Mask R-CNN-contract model whose outputs are every kind of nonsense at once."""
    image = ops.parameter([1, 3, 64, 64], np.float32, name="image")
    boxes = np.array([[np.nan, 1, 20, 20, 0.9], [5, 5, 60, 60, np.nan], [40, 40, 10, 10, 0.9],
                      [-100, -100, 1e9, 1e9, np.inf], [10, 10, 30, 30, 0.9]], np.float32)
    heatmaps = np.stack([np.full((28, 28), v, np.float32) for v in (1, 1, 1, 1, 0)])
    outputs = [ops.constant(np.zeros(5, np.int32)), ops.constant(boxes), ops.constant(heatmaps)]
    path = tmp_path_factory.mktemp("hostile") / "hostile.xml"
    ov.save_model(ov.Model([o.output(0) for o in outputs], [image]), path, compress_to_fp16=False)
    return path


def test_hostile_model_outputs_give_a_clean_run(hostile_model, tmp_path):
    frame = np.full((480, 640, 3), 128, np.uint8)
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", hostile_model, "-i", tmp_path / "frame.png", "--no_show", "--no_cache",
                   "--results", results, "-o", tmp_path / "out.png")

    assert run.returncode == 0, run.stderr
    (record,) = read_results(results)
    assert len(record["instances"]) == 1  # the empty-heatmap one; the frame-filling box's score is infinite
    assert all(0 <= c <= 640 for i in record["instances"] for c in i["box"][::2])
    assert cv2.imread(str(tmp_path / "out.png")).shape == frame.shape


def odd_images() -> dict[str, np.ndarray]:
    scene, _ = synthetic.draw_scene(333, 211, [synthetic.Shape.rect((0, 0, 255), 20, 20, 200, 180)])
    deep = (scene.astype(np.uint16) * 257)
    return {"a_1x1.png": np.zeros((1, 1, 3), np.uint8), "b_odd.png": scene,
            "c_gray.png": cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY), "d_bgra.png": cv2.cvtColor(scene, cv2.COLOR_BGR2BGRA),
            "e_16bit.png": deep, "f_8k.png": cv2.resize(scene, (7680, 4320), interpolation=cv2.INTER_NEAREST)}


@pytest.mark.slow
def test_odd_frames_are_converted_and_segmented(models, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    for name, image in odd_images().items():
        cv2.imwrite(str(folder / name), image)
    (folder / "g_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    results = tmp_path / "results.jsonl"

    run = run_demo("-m", models["person-0007"].xml, "-i", folder, "--no_show", "--no_cache", "--results", results,
                   "-o", tmp_path / "out_%02d.png")

    assert run.returncode == 0, run.stderr
    assert "g_broken.png" in run.stderr  # skipped with a warning
    records = read_results(results)
    assert len(records) == 6
    assert records[0]["instances"] == []
    # The odd-sized, the 16-bit and the 8K frames keep their red "person": the gray and BGRA ones
    # are converted, and a gray frame has no pure red.
    found = [[i["name"] for i in r["instances"]] for r in records[1:]]
    assert found == [["person"], [], ["person"], ["person"], ["person"]]
    sizes = [cv2.imread(str(tmp_path / f"out_{n:02d}.png")).shape[:2] for n in range(6)]
    assert sizes == [(1, 1), (211, 333), (211, 333), (211, 333), (211, 333), (4320, 7680)]


def test_an_odd_sized_video_is_written_whole(models, tmp_path):
    frames = [synthetic.draw_scene(333, 211, [synthetic.Shape.rect((0, 0, 255), 20 + n, 20, 200, 180)])[0]
              for n in range(5)]
    clip = synthetic.write_ffv1_video(tmp_path / "odd.mkv", frames)
    output = tmp_path / "out.mkv"

    run = run_demo("-m", models["person-0007"].xml, "-i", clip, "--no_show", "--no_cache", "-o", output,
                   "--output_resolution", "333x211")

    assert run.returncode == 0, run.stderr
    written = synthetic.read_video(output)
    assert len(written) == 5 and written[0].shape == (212, 334, 3)  # padded to even, nothing cut
    assert np.all(written[0][211, :] == 0) and np.all(written[0][:, 333] == 0)


def test_a_truncated_video_keeps_the_frames_read_before_the_damage(models, tmp_path):
    frames = [synthetic.draw_scene(320, 240, [synthetic.Shape.rect((0, 0, 255), 10 + 5 * n, 20, 150, 200)])[0]
              for n in range(40)]
    writer = cv2.VideoWriter(str(tmp_path / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for frame in frames:
        writer.write(frame)
    writer.release()
    data = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    results, output = tmp_path / "results.jsonl", tmp_path / "out.avi"

    run = run_demo("-m", models["person-0007"].xml, "-i", tmp_path / "cut.avi", "--no_show", "--no_cache",
                   "--results", results, "-o", output)

    assert run.returncode == 0, run.stderr
    read = len(read_results(results))
    assert 10 < read < 40
    capture = cv2.VideoCapture(str(output))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == read


class Boom(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class ExplodingContract(MaskRCNNContract):
    def decode(self, outputs, limits) -> Detections:
        raise Boom("decode failed in a callback thread")


def test_an_error_in_a_callback_reaches_the_caller_instead_of_hanging(models):
    segmenter = demo.open(models["person-0007"].xml, cache_dir=None)
    exploding = ExplodingContract(**dataclasses.asdict(segmenter.model.contract))
    broken = Segmenter(dataclasses.replace(segmenter.model, contract=exploding), segmenter.labels, segmenter.limits)
    source = open_source("assets/sample_clip.avi", loop=True)

    with pytest.raises(Boom):
        for _ in broken.stream(source):
            pass
