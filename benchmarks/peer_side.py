"""model_api's side of benchmarks/peer.py, run by the peer's own Python (its venv has
openvino-model-api and the opencv-python-headless it pulls in, which must not reach the demo's).

As a model_api user writes it, after Open Model Zoo's Python demos: the model wrapper on the
model, its ``AsyncPipeline`` with the requests the device finds optimal, frames read with OpenCV
and submitted while a request is free, results taken in frame order, drawn with model_api's own
``Visualizer`` and written to an MJPG .avi. Prints one JSON line: frames, seconds (from the
first frame read to the output closed, model loading excluded), instances per frame.

    python peer_side.py MODEL.xml VIDEO OUTPUT.avi --model_type MaskRCNN|YOLO-seg [--labels a,b] [--threshold T] [--nms]
"""
from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
from model_api.models import Model
from model_api.pipelines import AsyncPipeline
from model_api.visualizer import Visualizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("video")
    parser.add_argument("output")
    parser.add_argument("--model_type", required=True)
    parser.add_argument("--labels", help="comma-separated, model_api's way (Mask R-CNN: background first)")
    parser.add_argument("--threshold", type=float, default=0.5, help="the lowest score kept, as the demo's -t")
    parser.add_argument("--nms", action="store_true", help="model_api's own NMS (off by default; YOLO needs it)")
    parser.add_argument("--nstreams", default="2", help="CPU streams: 2 is what the demo's throughput hint picks "
                                                       "on 2 cores")
    args = parser.parse_args()
    configuration = {"confidence_threshold": args.threshold, "nms_execute": args.nms}
    if args.labels:
        configuration["labels"] = args.labels.split(",")
    model = Model.create_model(args.model, model_type=args.model_type, configuration=configuration, device="CPU",
                               nstreams=args.nstreams, preload=False)
    pipeline = AsyncPipeline(model)
    visualizer = Visualizer()
    capture = cv2.VideoCapture(args.video)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    submitted = shown = instances = 0
    started = time.perf_counter()
    reading = True
    while reading or shown < submitted:
        if pipeline.callback_exceptions:
            raise pipeline.callback_exceptions[0]
        done = pipeline.get_result(shown)
        if done:
            result, meta = done
            picture = cv2.cvtColor(visualizer.render(cv2.cvtColor(meta["frame"], cv2.COLOR_BGR2RGB), result),
                                   cv2.COLOR_RGB2BGR)
            if writer is None:
                writer = cv2.VideoWriter(args.output, cv2.VideoWriter_fourcc(*"MJPG"), fps,
                                         (picture.shape[1], picture.shape[0]))
            writer.write(picture)
            instances += len(result.bboxes)
            shown += 1
            continue
        if reading and pipeline.is_ready():
            ok, frame = capture.read()
            if not ok:
                reading = False
                continue
            pipeline.submit_data(frame, submitted, {"frame": frame})
            submitted += 1
        else:
            pipeline.await_any()
    pipeline.await_all()
    if writer is not None:
        writer.release()
    seconds = time.perf_counter() - started
    print(json.dumps({"frames": shown, "seconds": seconds, "instances_per_frame": instances / max(shown, 1),
                      "numpy": np.__version__}))


if __name__ == "__main__":
    main()
