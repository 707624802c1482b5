"""tests/helpers/kserve_server.py started in a process of its own, and a model exported for it by
``python -m demo export``."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers.running import ROOT, run_demo
from helpers.stream_servers import free_port

# A raw 1344x800 network input is 12.9 MB of f32: above gRPC's default limits (as for OVMS, whose own
# limit is 1 GB).
GRPC_MESSAGES = ("--grpc_max_receive_message_length", str(2**30), "--grpc_max_send_message_length", str(2**30))


@dataclass
class KServe:
    """tests/kserve_server.py in a process of its own (kserve and tritonclient.grpc cannot share one)."""

    models: dict[str, Path]
    log: Path
    flags: tuple[str, ...] = ()  # KServe's own, e.g. --ssl_certfile
    env: dict[str, str] = field(default_factory=dict)
    http_port: int = 0
    grpc_port: int = 0
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> KServe:
        self.http_port, self.grpc_port = self.http_port or free_port(), self.grpc_port or free_port()
        command = [sys.executable, str(Path(__file__).with_name("kserve_server.py")), "--http_port", str(self.http_port),
                   "--grpc_port", str(self.grpc_port), *GRPC_MESSAGES, *self.flags,
                   *(f"{name}={path}" for name, path in self.models.items())]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                            env={**os.environ, **self.env})
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the KServe server did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        return self

    def _ready(self) -> bool:
        """Both ports take connections: KServe opens them once every model is loaded."""
        try:
            for port in (self.http_port, self.grpc_port):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def url(self, name: str, protocol: str = "http") -> str:
        port = self.grpc_port if protocol.startswith("grpc") else self.http_port
        return f"{protocol}://127.0.0.1:{port}/v2/models/{name}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> KServe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def export(model: Path, folder: Path, name: str) -> Path:
    done = run_demo("export", model, folder, "--name", name)
    assert done.returncode == 0, done.stderr
    assert "--config_path /models/config.json" in done.stdout and "ovms --config_path" in done.stdout
    return folder / name / "1" / "model.xml"
