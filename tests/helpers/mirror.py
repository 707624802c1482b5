"""A local mirror for downloads on 127.0.0.1: a file server that can drop, stall or refuse ranges, and a
catalogue pointing at it (the ``server``, ``clip`` and ``world`` fixtures, registered by the root conftest)."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import synthetic

from demo.model import download

PERSON = "instance-segmentation-person-0007"
SECURITY = "instance-segmentation-security-0002"
CLIP_FRAMES = 4


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)  # URL path -> body
    ranges: bool = True  # honour "Range: bytes=N-" with a 206
    drop_once: set[str] = field(default_factory=set)  # the next GET of these sends half, then hangs up
    drop_always: set[str] = field(default_factory=set)
    stall: set[str] = field(default_factory=set)  # send half, then wait until the test is done
    stall_once: set[str] = field(default_factory=set)  # the next GET sends half, then is silent for 2 s
    stalled: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)


class Handler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        state = self.server.state
        asked = self.headers.get("Range")
        state.requests.append((self.path, asked))
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = int(asked.removeprefix("bytes=").rstrip("-")) if asked and state.ranges else 0
        if start >= len(body) > 0 and asked:
            self.send_error(416)
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        rest = body[start:]
        if self.path in state.drop_once | state.drop_always | state.stall | state.stall_once:
            state.drop_once.discard(self.path)
            self.wfile.write(rest[:len(rest) // 2])
            self.wfile.flush()
            if self.path in state.stall:
                state.stalled.set()
                state.released.wait(timeout=60)
            if self.path in state.stall_once:
                state.stall_once.discard(self.path)
                state.released.wait(timeout=2)
            return  # http.server closes the connection: the client sees it end early
        self.wfile.write(rest)

    def log_message(self, *args: object) -> None:
        pass


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = ServerState()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    served = FileServer()
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.state.released.set()
    served.shutdown()
    served.server_close()


def pattern_bytes(size: int, seed: int = 0) -> bytes:
    """Known content that is not all alike, so a shifted or mixed-up resume changes the checksum."""
    return bytes((i * 31 + seed) % 251 for i in range(size))


def remote(name: str, body: bytes, url: str) -> dict:
    return {"name": name, "url": url, "size": len(body), "sha384": hashlib.sha384(body).hexdigest()}


@dataclass(frozen=True)
class World:
    """A catalogue in the bundled format whose files the local server holds, and the environment using it."""

    server: FileServer
    catalogue: Path
    cache: Path
    bodies: dict[str, bytes]  # file name -> content, for every model file and the clip

    @property
    def env(self) -> dict[str, str]:
        return {"DEMO_CATALOGUE": str(self.catalogue), "OMZ_MIRROR": self.server.url,
                "DEMO_MEDIA_MIRROR": self.server.url, "XDG_CACHE_HOME": str(self.cache), "DEMO_MODELS_DIR": ""}

    def path_of(self, file_name: str) -> str:
        """The server path a file of the catalogue is fetched from."""
        return next(path for path, body in self.server.state.files.items() if path.endswith("/" + file_name))


def make_world(server: FileServer, folder: Path, person_xml: Path, clip: Path) -> World:
    """person-0007 (FP16) is a working synthetic model; security-0002 (FP32) is plain bytes."""
    bodies = {f"{PERSON}.xml": person_xml.read_bytes(), f"{PERSON}.bin": person_xml.with_suffix(".bin").read_bytes(),
              f"{SECURITY}.xml": pattern_bytes(3000, 1), f"{SECURITY}.bin": pattern_bytes(200_000, 2),
              "clip.mkv": clip.read_bytes()}

    def serve(origin: str, path: str, name: str) -> dict:
        server.state.files[path] = bodies[name]
        return remote(name, bodies[name], origin + path)

    def model(name: str, precision: str, resize: str) -> dict:
        files = [serve(download.MODEL_ORIGIN, f"/omz/{name}/{precision}/{name}{suffix}", name + suffix)
                 for suffix in (".xml", ".bin")]
        return {"input_shape": [1, 3, 320, 544], "resize": resize, "coco_ap": {"box": 0.5, "mask": 0.4},
                "precisions": {precision: files}}

    catalogue = {"models": {PERSON: model(PERSON, "FP16", "stretch"), SECURITY: model(SECURITY, "FP32", "fit")},
                 "sample_clip": serve(download.MEDIA_ORIGIN, "/sample-videos/clip.mkv", "clip.mkv")}
    path = folder / "catalogue.json"
    path.write_text(json.dumps(catalogue))
    return World(server, path, folder / "cache", bodies)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    shapes = [synthetic.Shape.rect((0, 0, 255), 40 + 10 * n, 60, 300 + 10 * n, 400) for n in range(CLIP_FRAMES)]
    frames = [synthetic.draw_scene(640, 480, [shape])[0] for shape in shapes]
    return synthetic.write_ffv1_video(tmp_path_factory.mktemp("clip") / "clip.mkv", frames)


@pytest.fixture
def world(server, tmp_path_factory, models, clip) -> World:
    return make_world(server, tmp_path_factory.mktemp("world"), models["person-0007"].xml, clip)


def settle(path: Path, seconds_ago: float = 3600) -> None:
    """Give ``path`` a modification time long past, as a file downloaded on an earlier day has."""
    then = path.stat().st_mtime - seconds_ago
    os.utime(path, (then, then))
