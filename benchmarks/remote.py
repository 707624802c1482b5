"""How well the demo keeps a KServe v2 server busy: the figures docs/results.md (Remote inference) quotes.

Serves a model of person-0007's cost (tests/helpers/heavy_model.py) on the tests' KServe server
(tests/helpers/kserve_server.py, on 127.0.0.1) twice: exported by ``python -m demo export`` (pre-processing in
the served graph) and as it is (pre-processing on the client). Runs ``python -m demo --benchmark`` on a
1080p MJPG clip locally and against the server with -nireq 1, 2 and 4, and prints a table: end-to-end
FPS, the network alone through the same remote queue (the server's own capacity as this client reaches
it), their ratio, each remote run against the local one, and the client's CPU per frame. The frames are
fitted to the network on the client (``--preprocess host``, the default), so the exported model is sent
the network-sized picture; ``-- --preprocess model`` sends it the whole frame, and prepares a raw network's
input with the fit in the client's graph, as before. Then times the client-side pre-processing of one
1080p frame.

    python benchmarks/remote.py [--time SECONDS] [--workdir DIR] [-- extra demo flags]

Client and server share this machine's cores, so the remote/local ratio here is the cost of the
protocol and the copies, not what a separate server would add.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from clip import write_mjpg_clip
from testkit import heavy_model, kserve_process

import demo

ROOT = Path(__file__).resolve().parents[1]

REQUESTS = (1, 2, 4)
PREPARE_ROUNDS = 50


def benchmark(model: str, video: Path, seconds: float, report: Path, *flags: str) -> dict:
    """The demo's --benchmark report of one run."""
    command = [sys.executable, "-m", "demo", "-m", model, "-i", str(video), "--benchmark", "--time", str(seconds),
               "--no_show", "--no_cache", "--report", str(report), *flags]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(report.read_text())


def preparation_ms(url: str, video: Path, *flags: str) -> float:
    """Wall time per frame of the client-side pre-processing alone: the fit (unless the local model does
    it) and the local identity model that makes the network's input."""
    capture = cv2.VideoCapture(str(video))
    _, frame = capture.read()
    capture.release()
    place = flags[flags.index("--preprocess") + 1] if "--preprocess" in flags else "auto"
    model = demo.open(url, preprocess=place).model
    request = model.engine.prepare.create_infer_request()
    request.infer(model.inputs(frame))
    started = time.perf_counter()
    for _ in range(PREPARE_ROUNDS):
        request.infer(model.inputs(frame))
    return 1000 * (time.perf_counter() - started) / PREPARE_ROUNDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=float, default=8.0, help="seconds of each benchmark run")
    parser.add_argument("--workdir", type=Path, help="keep the model and clip here (default: a temporary folder)")
    parser.add_argument("extra", nargs="*", help="more flags for python -m demo, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.workdir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        model, video = folder / "person_0007_cost.xml", folder / "ten_shapes_1080p.avi"
        if not model.exists():
            heavy_model.person_0007_cost_model(model)
        if not video.exists():
            write_mjpg_clip(video)
        repository = folder / f"repository-{os.getpid()}"
        exported = kserve_process.export(model, repository, "served")
        rows = [("local", "-", benchmark(str(model), video, args.time, folder / "local.json", "-nireq", "2",
                                         *args.extra))]
        with kserve_process.KServe({"served": exported, "raw": model}, folder / "server.log") as server:
            for name, url in (("gRPC, raw model, client pre-processing", server.url("raw", "grpc")),
                              ("REST, raw model, client pre-processing", server.url("raw")),
                              ("REST, exported model", server.url("served"))):
                for requests in REQUESTS:
                    try:
                        report = benchmark(url, video, args.time, folder / "remote.json", "-nireq", str(requests),
                                           *args.extra)
                    except subprocess.CalledProcessError:
                        print(f"  ({name}: the run failed; see above)")
                        break
                    rows.append((name, str(requests), report))
            prepare = preparation_ms(server.url("raw", "grpc"), video, *args.extra)
    local_fps = rows[0][2]["end_to_end_fps"]
    print()
    print(f"{'where':42} {'nireq':>5} {'end-to-end FPS':>15} {'network alone FPS':>18} {'ratio':>6} "
          f"{'remote/local':>12} {'client CPU ms/frame':>20}")
    for name, requests, report in rows:
        print(f"{name:42} {requests:>5} {report['end_to_end_fps']:15.2f} {report['inference_only_fps']:18.2f} "
              f"{report['efficiency']:6.2f} {report['end_to_end_fps'] / local_fps:12.2f} "
              f"{report['process_cpu_ms']['end_to_end']:20.2f}")
    print(f"\nclient-side pre-processing of a 1920x1080 frame to the network input: {prepare:.2f} ms wall per frame")


if __name__ == "__main__":
    main()
