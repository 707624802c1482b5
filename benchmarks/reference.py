"""Why the pipeline could beat --benchmark's old model-alone figure, by experiment.

In one process, on one compiled model, in short rounds that take turns (the order rotates each
round), it measures the demo's pipeline (decode, paste, tracking, drawing; no writers) and
model-alone variants that differ from the old reference one candidate cause at a time:

    old          a second request queue, one pre-decoded frame over and over, outputs never read
    static       the same, on the model compiled with a static input of the clip's size
    one-read     a second queue, one frame, each result's outputs decoded as the pipeline does
    several-read a second queue, the first frames of the clip in turn, outputs decoded
    reference    --benchmark's reference: the stream's own requests, the first frames, outputs decoded

For each round it also reads how much of the cores other processes used during each side
(/proc/stat less this process), and prints each variant's efficiency (pipeline / variant), its
spread over the rounds, and how the rounds' efficiencies follow the difference in other load.

With ``--spinners N`` it adds a known load of its own: N processes that each keep one core
busy for the whole run (ended with it).

    python benchmarks/reference.py [--model XML] [--clip VIDEO] [--rounds N] [--seconds S] [--spinners N]
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# As while a segmenter is open (demo/core/blas.py): NumPy's OpenBLAS with one thread, set before it loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import openvino as ov  # noqa: E402

import demo  # noqa: E402
from demo.app import benchmark
from demo.app import run as app  # noqa: E402
from demo.app.benchmark import Throughput  # noqa: E402
from demo.app.benchmark import machine_busy_seconds as busy_seconds
from demo.core.metrics import RunMetrics  # noqa: E402
from demo.frames.sources import Frame, open_source  # noqa: E402
from demo.model.contracts import recognise  # noqa: E402
from demo.model.loading import embed_preprocessing  # noqa: E402
from demo.model.model_info import read_model_info  # noqa: E402
from demo.picture.render import InstanceRenderer  # noqa: E402
from demo.results.tracker import MaskTracker  # noqa: E402

SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models/yolo11n-seg_int8_openvino_model/yolo11n-seg.xml"
CLIP = SHARED / "media/one-by-one-person-detection.mp4"


def own_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass(frozen=True)
class Side:
    throughput: Throughput
    others: float  # share of all cores other processes used meanwhile


def measured(run: Callable[[], Throughput]) -> Side:
    busy, own = busy_seconds(), own_seconds()
    throughput = run()
    others = (busy_seconds() - busy) - (own_seconds() - own)
    return Side(throughput, max(others, 0.0) / (throughput.seconds * os.cpu_count()))


def flat_out(requests: ov.AsyncInferQueue, inputs: list[dict], seconds: float) -> Throughput:
    """A request queue fed ``inputs`` in turn for ``seconds``, as benchmark_app does."""
    count, cpu, started = 0, time.process_time(), time.perf_counter()
    for item in itertools.cycle(inputs):
        if count and time.perf_counter() >= started + seconds:
            break
        requests.start_async(item, share_inputs=True)  # returns once a request is free
        count += 1
    requests.wait_all()
    return Throughput(count, time.perf_counter() - started, time.process_time() - cpu)


def static_twin(segmenter: demo.Segmenter, path: Path, frame: np.ndarray, hint: str) -> ov.CompiledModel:
    """The same model and in-graph pre-processing, compiled for one input size: the frame's."""
    core = ov.Core()
    model = core.read_model(path)
    info = read_model_info(model, path)
    contract = recognise(model, str(path), info)
    embed_preprocessing(model, contract, replace(info.preprocessing(contract.preprocessing),
                                                 policy=segmenter.model.policy), path)
    model.reshape({model.input(contract.image_input).get_any_name(): [1, *frame.shape]})
    return core.compile_model(model, "CPU", {"PERFORMANCE_HINT": hint.upper()})


def variants(segmenter: demo.Segmenter, decoded: list[Frame], static: ov.CompiledModel,
             ) -> dict[str, Callable[[float], Throughput]]:
    model, limits = segmenter.model, segmenter.limits

    def read(request: ov.InferRequest, _: object) -> None:
        model.contract.decode([tensor.data for tensor in request.output_tensors], limits)

    unread = ov.AsyncInferQueue(model.engine.compiled, segmenter.requests)
    reading = ov.AsyncInferQueue(model.engine.compiled, segmenter.requests)
    reading.set_callback(read)
    fixed = ov.AsyncInferQueue(static, segmenter.requests)
    one = [model.inputs(decoded[0].image)]
    several = [model.inputs(frame.image) for frame in decoded]
    return {
        "old": lambda seconds: flat_out(unread, one, seconds),
        "static": lambda seconds: flat_out(fixed, one, seconds),
        "one-read": lambda seconds: flat_out(reading, one, seconds),
        "several-read": lambda seconds: flat_out(reading, several, seconds),
        "reference": lambda seconds: benchmark.measure_model_alone(segmenter, decoded, seconds),
    }


def summary(name: str, rounds: list[dict[str, Side]]) -> str:
    pipeline = sum((r["pipeline"].throughput for r in rounds), Throughput())
    side = sum((r[name].throughput for r in rounds), Throughput())
    efficiencies = [r["pipeline"].throughput.fps / r[name].throughput.fps for r in rounds]
    load_shift = [r[name].others - r["pipeline"].others for r in rounds]
    follows = np.corrcoef(efficiencies, load_shift)[0, 1] if np.std(load_shift) > 0 else float("nan")
    return (f"{name:>13}: {side.fps:6.2f} FPS, {side.cpu_ms_per_frame:5.1f} ms CPU/frame, "
            f"{side.cpu_seconds / side.seconds:.2f} cores; efficiency {pipeline.fps / side.fps:.3f} "
            f"(in CPU time {side.cpu_ms_per_frame / pipeline.cpu_ms_per_frame:.3f}), "
            f"rounds median {statistics.median(efficiencies):.3f}, "
            f"{min(efficiencies):.3f} to {max(efficiencies):.3f}, sd {statistics.stdev(efficiencies):.3f}; "
            f"correlation with the other load's shift {follows:+.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=1.0, help="of each side of a round")
    parser.add_argument("--hint", default="throughput")
    parser.add_argument("--spinners", type=int, default=0, help="processes that each keep a core busy meanwhile")
    args = parser.parse_args()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.spinners)]
    try:
        compare(args)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def compare(args: argparse.Namespace) -> None:
    segmenter = demo.open(args.model, hint=args.hint, cache_dir=None)
    source = open_source(str(args.clip), loop=True)
    frames = iter(source)
    render, tracker = InstanceRenderer(status_rows=0), MaskTracker()
    warmup = list(itertools.islice(frames, segmenter.read_ahead()))
    decoded = [replace(frame, image=frame.image.copy()) for frame in warmup]
    app.run(segmenter, warmup, render, app.Outputs(), tracker, RunMetrics())
    sides = {"pipeline": lambda seconds: benchmark.measure_pipeline(
        segmenter, benchmark.until(frames, None, seconds), render, app.Outputs(), tracker, RunMetrics(), False),
        **variants(segmenter, decoded, static_twin(segmenter, args.model, decoded[0].image, args.hint))}
    for run in sides.values():
        run(0.3)  # warm-up
    rounds: list[dict[str, Side]] = []
    names = list(sides)
    for index in range(args.rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        rounds.append({name: measured(lambda: sides[name](args.seconds)) for name in order})
        print(f"round {index}: " + ", ".join(f"{name} {rounds[-1][name].throughput.fps:.1f}"
                                             f" ({rounds[-1][name].others:.0%})" for name in names), flush=True)
    pipeline = sum((r["pipeline"].throughput for r in rounds), Throughput())
    others = statistics.mean(side.others for r in rounds for side in r.values())
    print(f"\npipeline: {pipeline.fps:.2f} FPS, {pipeline.cpu_ms_per_frame:.1f} ms CPU/frame, "
          f"{pipeline.cpu_seconds / pipeline.seconds:.2f} cores; other processes "
          f"used {others:.0%} of the cores on average ({os.getloadavg()[0]:.2f} load)")
    for name in names[1:]:
        print(summary(name, rounds))


if __name__ == "__main__":
    main()
