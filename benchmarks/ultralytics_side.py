"""Ultralytics' own pipeline on a clip, the other side of the comparison in docs/results.md.

It runs ``YOLO(MODEL).predict(source=CLIP, stream=True)`` on the OpenVINO export folder, as an Ultralytics
user runs it without a window or saved files, for the first FRAMES frames, and prints its FPS as the demo
does (frames over the time from the first result to the last) and its CPU time per frame (the whole
process's, start-up included). Ultralytics compiles an OpenVINO model with the latency hint and infers
one frame at a time: the demo's live settings (``--hint latency -nireq 1``) are the like-for-like run,
its defaults the run a user gets.

It needs torch and ultralytics, so it runs in a venv of its own, never the demo's (ultralytics would pull
in packages the demo pins otherwise):

    python -m venv ulvenv && ulvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 ultralytics openvino
    ulvenv/bin/python benchmarks/ultralytics_side.py MODEL_FOLDER CLIP FRAMES
"""
from __future__ import annotations

import resource
import sys
import time


def main(model: str, clip: str, frames: int) -> None:
    from ultralytics import YOLO  # here: the import alone takes seconds, and counts as start-up

    seen, first = 0, None
    for _ in YOLO(model, task="segment").predict(source=clip, stream=True, verbose=False):
        seen += 1
        if first is None:
            first = time.perf_counter()
        if seen == frames:
            break
    seconds = time.perf_counter() - first
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"frames: {seen}, FPS: {(seen - 1) / seconds:.1f}, "
          f"cpu_ms: {1000 * (usage.ru_utime + usage.ru_stime) / seen:.1f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
