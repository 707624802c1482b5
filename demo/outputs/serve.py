"""A live view over HTTP: the output pictures as an MJPEG stream, and a page that shows it.

The pipeline never waits for a viewer. It hands each picture to a slot that holds only the
newest one; each viewer's thread takes the newest picture it has not sent yet, so a slow
viewer skips pictures instead of slowing the run or the other viewers. A picture is encoded
to JPEG once, by the first viewer thread that wants it, and never when nobody watches.
"""
from __future__ import annotations

import contextlib
import errno
import html
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from demo.core.errors import UsageError
from demo.core.names import shown
from demo.frames.sources import ClosesOnExit

log = logging.getLogger(__name__)

STREAM_PATH = "/stream.mjpg"
BOUNDARY = "frame"
# A viewer that takes nothing for this long is dropped: its thread would otherwise wait on it forever.
STALLED_VIEWER_S = 10.0
ALL_ADDRESSES = ("0.0.0.0", "::", "")
# A viewer's thread ends as soon as its connection is shut; this only bounds a wait that is never needed.
CLOSE_GRACE_S = 1.0
ALLOW_HOST_FLAG = "--allowed_host"
ANY_HOST = "*"


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8080  # 0: a free port, shown in the logged address
    jpeg_quality: int = 80
    title: str = "OpenVINO instance segmentation"
    allowed_hosts: tuple[str, ...] = ()  # names a browser may open the view by, besides this machine's; * for any


class NewestPicture:
    """The newest picture handed over, numbered, and its JPEG once a viewer asked for it.

    Pictures are held, not copied: a picture handed to the outputs is never drawn on again
    (the window shows it once more while it waits for the next one, too).
    """

    def __init__(self, jpeg_quality: int) -> None:
        self._quality = jpeg_quality
        self._changed = threading.Condition()
        self._picture: np.ndarray | None = None
        self._number = 0
        self._closed = False
        self._encoding = threading.Lock()  # apart from _changed: an encode never holds up publish
        self._encoded: tuple[int, bytes] = (0, b"")

    def publish(self, picture: np.ndarray) -> None:
        with self._changed:
            self._picture = picture
            self._number += 1
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def after(self, number: int) -> tuple[int, bytes] | None:
        """The newest picture after ``number`` as (its number, JPEG), waiting for one; None once closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._number > number or self._closed)
            if self._closed:
                return None
            number, picture = self._number, self._picture
        with self._encoding:
            if self._encoded[0] != number:
                _, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
                self._encoded = (number, data.tobytes())
            return self._encoded


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a viewer's thread never keeps the process alive

    def __init__(self, address: tuple[Any, ...], family: int, settings: ServeSettings) -> None:
        self.address_family = family  # read by the socket's creation in TCPServer.__init__
        self.settings = settings
        self.newest = NewestPicture(settings.jpeg_quality)
        self.connections: set[socket.socket] = set()  # accepted and not yet ended
        self.viewer_threads: set[threading.Thread] = set()
        self.connections_lock = threading.Lock()
        self.host_names = HostNames(settings)
        super().__init__(address, _Viewer)

    def server_bind(self) -> None:
        # HTTPServer's own also looks the host's name up, which can wait on DNS for 0.0.0.0.
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" takes IPv4 too
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        # Known from its acceptance on, so that close ends it even before its thread has begun.
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.viewer_threads.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.viewer_threads.discard(threading.current_thread())

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A viewer that went away mid-request is not the run's problem: no traceback on stderr.
        log.debug("viewer %s: connection ended with an error", client_address, exc_info=True)


class _Viewer(BaseHTTPRequestHandler):
    server: _Server
    timeout = STALLED_VIEWER_S  # on every read and write of the connection

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the viewer has gone: nothing left to flush to it
            super().finish()

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = urlsplit(self.path).path
        host = self.headers.get("Host")
        if not self.server.host_names.allow(host):
            self.send_error(403, "Host not allowed", self.server.host_names.refusal(host))
        elif path == STREAM_PATH:
            self._stream()
        elif path in ("/", "/index.html"):
            self._page()
        else:
            self.send_error(404, f"the stream is at {STREAM_PATH}, its page at /")

    def _page(self) -> None:
        title = html.escape(self.server.settings.title)
        body = (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                # The picture fills the window's width or height, whichever fits, in the middle.
                "<style>html,body{margin:0;height:100%;overflow:hidden;background:#000}"
                "img{display:block;width:100vw;height:100vh;object-fit:contain}</style></head>"
                f'<body><img src="{STREAM_PATH}" alt="{title}, live"></body></html>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        newest, sent = self.server.newest, 0
        with contextlib.suppress(OSError):  # the viewer left, stalled or the server closed
            while (picture := newest.after(sent)) is not None:
                sent, jpeg = picture
                self.wfile.write(b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                 % (BOUNDARY.encode(), len(jpeg), jpeg))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        log.debug("viewer %s: " + format, self.address_string(), *args)


class HostNames:
    """The names a request may give in its ``Host:`` header.

    A web page that a DNS name of its own points at 127.0.0.1 (DNS rebinding) reaches the live view
    from the viewer's browser and could read the camera; its requests carry that name. Allowed are
    an address typed as numbers (no name to rebind), ``localhost``, the host the view was started
    on, this machine's name (the address the log shows for 0.0.0.0), and those the user allowed.
    """

    def __init__(self, settings: ServeSettings) -> None:
        self._names = {_bare(name) for name in ("localhost", settings.host, socket.gethostname(),
                                                *settings.allowed_hosts) if name}
        self._refused_before = False

    def allow(self, header: str | None) -> bool:
        """Whether to answer a request that gave ``header`` (None: none, as clients other than browsers may)."""
        if header is None or ANY_HOST in self._names:
            return True
        name = _bare(header)
        return name in self._names or _is_address(name)

    def refusal(self, header: str) -> str:
        """Why a request was refused and how to allow it, said in the log once, and to every such request."""
        name = shown(_bare(header))
        why = (f"this live view answers only to {', '.join(sorted(self._names))} or an IP address, "
               f"not to '{name}'; to open it by that name, start the demo with {ALLOW_HOST_FLAG} {name}")
        if not self._refused_before:
            self._refused_before = True
            log.warning("refused a viewer: %s", why)
        return why


def _bare(host: str) -> str:
    """A Host header's name, without its port, brackets, final dot and case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return (name if colon and port.isdigit() and ":" not in name else host).rstrip(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class FrameServer(ClosesOnExit):
    """Serves the pictures written to it at http://HOST:PORT/ (a page) and /stream.mjpg (MJPEG).

    The address is taken at construction, so a port in use or a bad host fails before the
    model loads.
    """

    def __init__(self, settings: ServeSettings) -> None:
        self._server = _bind(settings)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="serve", daemon=True)
        self._thread.start()
        log.info("live view at %s (the stream alone: %s)", self.url, self.url.rstrip("/") + STREAM_PATH)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        if host in ALL_ADDRESSES:
            host = socket.gethostname()  # what a browser on another machine opens
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def write(self, picture: np.ndarray) -> None:
        self._server.newest.publish(picture)

    def close(self) -> None:
        """Stop serving and end every viewer's connection, then let their threads end, which they do at
        once: none is left waiting for a picture, or on a viewer that stopped reading."""
        if not self._thread.is_alive():
            return
        self._server.shutdown()  # no more connections from here on
        self._server.newest.close()
        with self._server.connections_lock:
            for connection in self._server.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            threads = list(self._server.viewer_threads)
        for thread in threads:
            thread.join(CLOSE_GRACE_S)
        self._server.server_close()


def _bind(settings: ServeSettings) -> _Server:
    """A server listening at the settings' address, or one line saying why it cannot."""
    where = f"--serve {settings.host}:{settings.port}"
    try:
        family, _, _, _, address = socket.getaddrinfo(settings.host or None, settings.port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise UsageError(f"{where}: cannot resolve host '{settings.host}' ({error.strerror})") from None
    try:
        return _Server(address, family, settings)
    except OSError as error:
        raise UsageError(f"{where}: {_bind_problem(error)}") from None


def _bind_problem(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "the port is in use by another program; choose another port"
    if error.errno == errno.EADDRNOTAVAIL:
        return "that address is not one of this machine's (0.0.0.0 serves on all of them)"
    if error.errno == errno.EACCES:
        return "not allowed to serve on that port (ports below 1024 need privileges; choose 1024 or above)"
    return error.strerror or str(error)
