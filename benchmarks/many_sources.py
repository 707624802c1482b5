"""Many cameras on one machine: one process with several sources against the model alone, and against one
process per source. The figures docs/results.md quotes.

Four 1080p MJPG clips of ten shapes (benchmarks/clip.py; what a typical camera gives) and a model of
person-0007's cost (tests/helpers/heavy_model.py):

1. ``python -m demo -i cam1 [-i cam2 ...] --benchmark`` with 1, 2 and 4 sources: each run's efficiency (its
   total end-to-end throughput over the same compiled model alone with the same requests, in alternating
   rounds), and whether it stays within 10% of the one-source efficiency as sources are added.
2. The four sources as one process (``-i`` four times) and as four processes of the demo, one source each,
   run alike (``--loop --no_show --results``, frames counted over the same seconds once every process
   delivers, in two rounds each, taking turns): the total FPS ratio, the same in frames per CPU second of
   the demo's processes (which other load on a shared machine moves less), and the peak memory (the sum
   of the processes' peak RSS).

    python benchmarks/many_sources.py [--time SECONDS] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from clip import write_mjpg_clip
from testkit import heavy_model
from throughput import busy_seconds

ROOT = Path(__file__).resolve().parents[1]

SOURCE_COUNTS = (1, 2, 4)
EFFICIENCY_KEPT = 0.9  # the total stays within 10% of the one-source efficiency
ROUNDS = 2  # of the looped runs, one process and four in turns
SETTLE_S = 3.0  # after every process delivers, before counting: the compile and the first rounds are over


def prepare(folder: Path) -> tuple[Path, list[Path]]:
    model, clip = folder / "person_0007_cost.xml", folder / "ten_shapes_1080p.avi"
    if not model.exists():
        heavy_model.person_0007_cost_model(model)
    if not clip.exists():
        write_mjpg_clip(clip)
    cameras = []
    for number in range(1, 5):  # four sources of their own names, the same pictures
        camera = folder / f"cam{number}.avi"
        if not camera.exists():
            camera.symlink_to(clip.name)
        cameras.append(camera)
    return model, cameras


def demo_command(model: Path, cameras: list[Path], *flags: str) -> list[str]:
    inputs = [arg for camera in cameras for arg in ("-i", str(camera))]
    return [sys.executable, "-m", "demo", "-m", str(model), *inputs, "--hint", "throughput", "--no_show",
            "--no_cache", *flags]


def benchmark(model: Path, cameras: list[Path], seconds: float, report: Path) -> dict:
    command = demo_command(model, cameras, "--benchmark", "--time", str(seconds), "--report", str(report))
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(report.read_text())


def lines(path: Path) -> int:
    """Lines written so far: a running demo keeps them in a hidden file beside the target."""
    for candidate in path.parent.glob(f".{path.name}.*{path.suffix}"):
        try:
            return candidate.read_bytes().count(b"\n")
        except FileNotFoundError:
            continue
    return 0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@dataclass
class Looped:
    """What processes of the demo did over the seconds counted: frames, wall and CPU seconds, peak memory,
    and the CPU seconds every other process on the machine used meanwhile."""

    frames: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    memory_mb: float = 0.0
    others: float = 0.0

    def __add__(self, other: Looped) -> Looped:
        return Looped(self.frames + other.frames, self.seconds + other.seconds, self.cpu + other.cpu,
                      max(self.memory_mb, other.memory_mb), self.others + other.others)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def frames_per_cpu_second(self) -> float:
        return self.frames / self.cpu if self.cpu else 0.0


def looped_runs(model: Path, groups: list[list[Path]], seconds: float, folder: Path) -> Looped:
    """Processes of the demo, one per group of sources, looping, counted over ``seconds`` once every one
    delivers."""
    results = [folder / f"run{index}.jsonl" for index in range(len(groups))]
    processes = [subprocess.Popen(demo_command(model, group, "--loop", "--results", str(result)), cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for group, result in zip(groups, results)]
    try:
        while not all(lines(result) for result in results):
            if any(process.poll() is not None for process in processes):
                raise RuntimeError("a demo process ended before delivering")
            time.sleep(0.1)
        time.sleep(SETTLE_S)
        frames, cpu, busy = sum(map(lines, results)), sum(cpu_seconds(p.pid) for p in processes), busy_seconds()
        started = time.perf_counter()
        time.sleep(seconds)
        ours = sum(cpu_seconds(p.pid) for p in processes) - cpu
        counted = Looped(sum(map(lines, results)) - frames, time.perf_counter() - started, ours,
                         sum(peak_rss_mb(process.pid) for process in processes), busy_seconds() - busy - ours)
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            process.wait(timeout=60)
    return counted


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=10.0, help="seconds of each measurement")
    parser.add_argument("--workdir", type=Path, help="keep the model and clips here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.workdir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        model, cameras = prepare(folder)
        reports = {count: benchmark(model, cameras[:count], args.time, folder / f"report_{count}.json")
                   for count in SOURCE_COUNTS}
        # In turns, so that a burst of other load on a shared machine weighs on both alike.
        one, four = Looped(), Looped()
        for _ in range(ROUNDS):
            one += looped_runs(model, [cameras], args.time, folder)
            four += looped_runs(model, [[camera] for camera in cameras], args.time, folder)
    print()
    single = reports[1]["efficiency"]
    for count, report in reports.items():
        kept = report["efficiency"] / single
        per_source = ", ".join(f"{figures['fps']:.1f}" for figures in (report.get("sources") or {}).values())
        print(f"{count} source{'s' if count > 1 else ''}: {report['end_to_end_fps']:.1f} FPS in total"
              + (f" ({per_source} per source)" if per_source else "")
              + f" / {report['inference_only_fps']:.1f} FPS model alone = efficiency {report['efficiency']:.3f}, "
              f"{kept:.2f} of one source's (goal >= {EFFICIENCY_KEPT}: {verdict(kept >= EFFICIENCY_KEPT)})")
    others = (one.others + four.others) / ((one.seconds + four.seconds) * os.cpu_count())
    if others > 0.05:
        print(f"note: other processes used {others:.0%} of the cores during the looped runs")
    ratio = one.fps / four.fps if four.fps else float("inf")
    print(f"four sources in one process: {one.fps:.1f} FPS in total; in four processes: {four.fps:.1f} FPS; "
          f"ratio {ratio:.2f} (goal > 1: {verdict(ratio > 1)})")
    print(f"frames per CPU second: one process {one.frames_per_cpu_second:.2f}, four processes "
          f"{four.frames_per_cpu_second:.2f}; ratio {one.frames_per_cpu_second / four.frames_per_cpu_second:.2f} "
          "(the same comparison, less moved by other load)")
    print(f"peak memory: one process {one.memory_mb:.0f} MB, four processes {four.memory_mb:.0f} MB in all "
          f"(goal: less in one: {verdict(one.memory_mb < four.memory_mb)})")

if __name__ == "__main__":
    main()
