"""This demo side by side with a peer pipeline, model_api's, on the same models and inputs.

Each scene is run as a user runs it, end to end with drawing and an MJPG .avi written: this demo
as ``python -m demo -m MODEL -i INPUT -o OUT.avi --no_show`` (its own FPS line: frames over the
time from the first frame to the outputs closed), and model_api (``openvino-model-api``, pinned in
benchmarks/requirements-peer.txt) by benchmarks/peer_side.py: its ``AsyncPipeline`` with the
wrapper for the model (YOLO-seg, MaskRCNN) and its ``Visualizer``, timed the same way. The two take
turns, the order swapped each round, so that other load weighs on both; the ratio of their FPS is
taken per round and its median printed against the goal (>= 1.3 on the crowded scenes), and so is
each side's CPU time per frame (the whole process's, start-up included, over the frames it showed).

Scenes: the shared YOLO11n-seg INT8 model on the first 150 frames of the shared 768x432 clip, and
crowds of 1, 10, 30 and 100 instances (or any count given in --scenes) on 1080p MJPG clips
(benchmarks/crowd.py: a Mask R-CNN of person-0007's cost whose outputs are those discs, so the counts
are exact on both sides).

model_api's wheel pulls opencv-python-headless, which would replace the demo's GUI cv2: the peer
runs in a venv of its own, made on first use (``--peer-venv DIR``, default WORKDIR/peer-venv) and
installed from benchmarks/requirements-peer.txt.

    python benchmarks/peer.py [--rounds N] [--workdir DIR] [--peer-venv DIR] [--scenes clip,1,10,30,100]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import crowd
from testkit import heavy_model

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

SHARED = ROOT.parent / "shared"
YOLO = SHARED / "models/yolo11n-seg_int8_openvino_model/yolo11n-seg.xml"
CLIP = SHARED / "media/one-by-one-person-detection.mp4"
CLIP_FRAMES = 150
CROWD_FRAMES = 60
GOAL = 1.3
FPS_LINE = re.compile(r"^frames: (\d+), FPS: ([0-9.]+)", re.MULTILINE)


@dataclass(frozen=True)
class Scene:
    name: str
    model: Path
    video: Path
    peer_flags: tuple[str, ...]  # how model_api is told what the demo reads from the model
    crowded: bool


def scenes(folder: Path, chosen: list[str], crowd_frames: int = CROWD_FRAMES) -> list[Scene]:
    made = []
    if "clip" in chosen:
        cut = folder / f"clip_{CLIP_FRAMES}.mp4"
        if not cut.exists():  # the first frames as they are, H.264, so both decode what the clip holds
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(CLIP), "-frames:v", str(CLIP_FRAMES),
                            "-c", "copy", str(cut)], check=True)
        # The demo keeps one box per object (NMS, as Ultralytics does); model_api does only when told.
        made.append(Scene("YOLO11n-seg, 768x432 clip", YOLO, cut, ("--model_type", "YOLO-seg", "--nms"), False))
    for count in (int(name) for name in chosen if name.isdigit()):
        model, video = folder / f"crowd_{count}.xml", folder / f"crowd_{count}_{crowd_frames}.avi"
        if not model.exists():
            crowd.constant_maskrcnn(model, count, heavy_model.PERSON_0007_GFLOPS)
        if not video.exists():
            crowd.write_clip(video, count, crowd_frames)
        # model_api counts Mask R-CNN labels from 1, after a background class.
        made.append(Scene(f"crowd of {count}, 1080p", model, video,
                          ("--model_type", "MaskRCNN", "--labels", "background,person"), True))
    return made


def peer_python(venv: Path) -> Path:
    """The peer venv's Python, made and installed on first use; never the demo's own."""
    if venv.resolve() == Path(sys.prefix).resolve():
        raise SystemExit(f"--peer-venv {venv} is the demo's own environment: model_api's opencv-python-headless "
                         "would replace its cv2; give another folder")
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making the peer's venv in {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements-peer.txt")],
                       check=True)
    return python


@dataclass(frozen=True)
class Side:
    fps: float
    cpu_ms: float  # the whole process's CPU time per frame shown, start-up included


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def demo_side(scene: Scene, output: Path) -> Side:
    command = [sys.executable, "-m", "demo", "-m", str(scene.model), "-i", str(scene.video), "-o", str(output),
               "--no_show", "--no_cache"]
    cpu = children_cpu_seconds()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    found = FPS_LINE.search(run.stderr)
    if run.returncode or not found:
        raise SystemExit(f"the demo failed on {scene.name}: {run.stderr.strip()[-500:]}")
    return Side(float(found.group(2)), 1000 * (children_cpu_seconds() - cpu) / int(found.group(1)))


def peer_side(python: Path, scene: Scene, output: Path) -> Side:
    command = [str(python), str(HERE / "peer_side.py"), str(scene.model), str(scene.video), str(output),
               *scene.peer_flags]
    cpu = children_cpu_seconds()
    run = subprocess.run(command, capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                       if k != "PYTHONPATH"})
    if run.returncode:
        raise SystemExit(f"model_api failed on {scene.name}: {run.stderr.strip()[-500:]}")
    report = json.loads(run.stdout.strip().splitlines()[-1])
    return Side(report["frames"] / report["seconds"], 1000 * (children_cpu_seconds() - cpu) / report["frames"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep the models, clips and the peer's venv here "
                                                     "(default: a temporary folder)")
    parser.add_argument("--peer-venv", type=Path, help="the peer's venv (default: WORKDIR/peer-venv)")
    parser.add_argument("--scenes", default="clip,1,10,30,100")
    parser.add_argument("--crowd_frames", type=int, default=CROWD_FRAMES,
                        help="frames of each crowd clip: more make start-up a smaller part of the CPU per frame")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.workdir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        python = peer_python(args.peer_venv or folder / "peer-venv")
        chosen = scenes(folder, args.scenes.split(","), args.crowd_frames)
        figures: dict[str, list[tuple[Side, Side]]] = {scene.name: [] for scene in chosen}
        for index in range(args.rounds):
            for scene in chosen:
                if index % 2 == 0:
                    ours = demo_side(scene, folder / "demo.avi")
                    theirs = peer_side(python, scene, folder / "peer.avi")
                else:
                    theirs = peer_side(python, scene, folder / "peer.avi")
                    ours = demo_side(scene, folder / "demo.avi")
                figures[scene.name].append((ours, theirs))
                print(f"round {index}, {scene.name}: demo {ours.fps:.2f} FPS {ours.cpu_ms:.1f} ms CPU/frame, "
                      f"model_api {theirs.fps:.2f} FPS {theirs.cpu_ms:.1f} ms CPU/frame, {ours.fps / theirs.fps:.2f}x "
                      f"FPS, {ours.cpu_ms / theirs.cpu_ms:.2f}x CPU (load {os.getloadavg()[0]:.2f})", flush=True)
    print("\n| scene | this demo (FPS, CPU ms/frame) | model_api (FPS, CPU ms/frame) | FPS ratio, median of rounds | "
          "CPU ratio, median | goal (FPS) |")
    print("|---|---:|---:|---:|---:|---|")
    for scene in chosen:
        pairs = figures[scene.name]
        ratio = statistics.median(ours.fps / theirs.fps for ours, theirs in pairs)
        cpu = statistics.median(ours.cpu_ms / theirs.cpu_ms for ours, theirs in pairs)
        goal = (f">= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'}") if scene.crowded else "-"
        print(f"| {scene.name} | {statistics.median(p[0].fps for p in pairs):.2f}, "
              f"{statistics.median(p[0].cpu_ms for p in pairs):.1f} | {statistics.median(p[1].fps for p in pairs):.2f}, "
              f"{statistics.median(p[1].cpu_ms for p in pairs):.1f} | {ratio:.2f}x | {cpu:.2f}x | {goal} |")


if __name__ == "__main__":
    main()
