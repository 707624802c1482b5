"""How much of the network's throughput the demo keeps: the figures docs/results.md quotes.

Builds a model of person-0007's cost (tests/helpers/heavy_model.py) and a 1080p MJPG clip with ten
coloured shapes (ten instances per frame), runs ``python -m demo --benchmark`` on them as a
user would (its reference: the raw network alone, as benchmark_app runs it), then the paste
micro-benchmark, and prints each figure against its goal, with the shares of a frame's CPU time.

    python benchmarks/throughput.py [--time SECONDS] [--workdir DIR] [-- extra demo flags]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paste
from clip import write_mjpg_clip
from testkit import heavy_model

from demo.app.benchmark import machine_busy_seconds as busy_seconds

ROOT = Path(__file__).resolve().parents[1]

EFFICIENCY_GOAL = 0.75
CPU_EFFICIENCY_GOAL = 0.8  # the network alone's CPU per inference over the demo's per frame
HOST_CPU_GOAL_MS = 8.0
PASTE_GOAL_MS = 5.0


def prepare(folder: Path) -> tuple[Path, Path]:
    model, video = folder / "person_0007_cost.xml", folder / "ten_shapes_1080p.avi"
    if not model.exists():
        heavy_model.person_0007_cost_model(model)
    if not video.exists():
        write_mjpg_clip(video)
    return model, video


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_demo_benchmark(model: Path, video: Path, seconds: float, report: Path, extra: list[str]) -> tuple[dict, float]:
    """The demo's report, and the share of the cores other processes used meanwhile."""
    command = [sys.executable, "-m", "demo", "-m", str(model), "-i", str(video), "--benchmark", "--time", str(seconds),
               "--hint", "throughput", "--no_show", "--no_cache", "--report", str(report), *extra]
    print("$", " ".join(command[1:]), flush=True)
    busy, ours, started = busy_seconds(), children_cpu_seconds(), time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    others = (busy_seconds() - busy) - (children_cpu_seconds() - ours)
    return json.loads(report.read_text()), max(others, 0.0) / ((time.perf_counter() - started) * os.cpu_count())


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=20.0, help="seconds of the end-to-end run")
    parser.add_argument("--workdir", type=Path, help="keep the model and clip here (default: a temporary folder)")
    parser.add_argument("extra", nargs="*", help="more flags for python -m demo, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.workdir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        model, video = prepare(folder)
        report, others = run_demo_benchmark(model, video, args.time, folder / "report.json", args.extra)
    timing = paste.time_paste()
    host_cpu = sum(report["host_cpu_ms"].values())
    cpu = report["process_cpu_ms"]
    print()
    if others > 0.05:
        print(f"note: other processes used {others:.0%} of the cores during the run: the figures are not this "
              "machine's best")
    print(f"efficiency: {report['end_to_end_fps']:.1f} / {report['inference_only_fps']:.1f} FPS = "
          f"{report['efficiency']:.2f} (goal >= {EFFICIENCY_GOAL}: {verdict(report['efficiency'] >= EFFICIENCY_GOAL)})")
    spread = report["round_efficiency"]
    print(f"  the run's noise: rounds from {spread['min']:.2f} to {spread['max']:.2f}, sd {spread['sd']:.3f} over "
          f"{spread['rounds']}")
    print(f"in CPU time (what other load does not move): network alone / end-to-end = {report['cpu_efficiency']:.2f} "
          f"(goal >= {CPU_EFFICIENCY_GOAL}: {verdict(report['cpu_efficiency'] >= CPU_EFFICIENCY_GOAL)}); frames "
          f"fitted {'here' if report['fit'] == 'host' else 'in the graph'}")
    print("shares of a frame's CPU: " + ", ".join(f"{name} {share:.0%}" for name, share in report["cpu_shares"].items()))
    print(f"host CPU per 1080p frame outside inference (decode, preprocess, postprocess, render, write): "
          f"{host_cpu:.2f} ms (goal < {HOST_CPU_GOAL_MS:g}: {verdict(host_cpu < HOST_CPU_GOAL_MS)})")
    print(f"process CPU per frame: {cpu['end_to_end']:.2f} ms end-to-end, {cpu['inference_only']:.2f} ms "
          f"the network alone: the pipeline adds {cpu['end_to_end'] - cpu['inference_only']:.2f} ms")
    print(f"paste of {timing.instances} instances (28x28) on 1080p: {timing.cpu_ms:.2f} ms CPU, "
          f"{timing.wall_ms:.2f} ms wall (goal < {PASTE_GOAL_MS:g}: {verdict(timing.cpu_ms < PASTE_GOAL_MS)})")


if __name__ == "__main__":
    main()
