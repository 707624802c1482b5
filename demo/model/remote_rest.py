"""KServe v2 over REST on a transport the demo owns, so that every wait holds whatever the server does.

tritonclient's HTTP client (geventhttpclient) times out each socket read, not the whole answer, so a
server that trickles a byte now and then is never timed out; it reads the whole body into memory
whatever its size; and a stop cannot cut a read it is blocked in. Here the standard library's
``http.client`` carries the requests, tritonclient still builds and parses the binary KServe v2
bodies, and each exchange has

- one deadline for all of it (connecting, sending, the headers, the whole body): a timer shuts the
  socket down when it passes, which ends any blocked read or write at once;
- a byte ceiling: a Content-Length above it is refused before the body is read, and a body without
  one is read only up to it;
- :meth:`RestConnection.cancel`, callable from any thread, which cuts the exchange in flight the
  same way (a stop, a closing engine).
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import Message
from urllib.parse import quote

CHUNK = 1 << 20  # bytes read at a time: the body is read in pieces so the ceiling holds as it grows
HEADER_LENGTH = "Inference-Header-Content-Length"  # the JSON part of a binary KServe v2 body


class Cancelled(Exception):
    """The exchange was cut by :meth:`RestConnection.cancel`."""


class AnswerTooLarge(Exception):
    """The answer is larger than the ceiling it was read with."""

    def __init__(self, size: int | None, ceiling: int):
        said = f"with {size} bytes, more than" if size is not None else "past"
        super().__init__(f"the server answered {said} the {ceiling} bytes the model's outputs can take")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes

    def error_message(self) -> str:
        """The error a KServe server puts in a refusal (``{"error": "..."}``), or the body's start."""
        try:
            return str(json.loads(self.body)["error"])
        except (ValueError, KeyError, TypeError):
            return self.body[:200].decode(errors="replace")


class RestConnection:
    """One kept-alive connection to a server; not shared between threads, except for :meth:`cancel`."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None, headers: dict[str, str]):
        self._host, self._port, self._context = host.strip("[]"), port, context
        self._headers = headers
        self._connection: http.client.HTTPConnection | None = None
        self._cancelled = threading.Event()
        self._cut_lock = threading.Lock()  # a cut and a new connection do not cross

    def get(self, path: str, seconds: float, ceiling: int) -> Answer:
        return self._exchange("GET", path, None, {}, seconds, ceiling)

    def post(self, path: str, body: bytes, json_size: int | None, seconds: float, ceiling: int) -> Answer:
        headers = {"Content-Type": "application/octet-stream"}
        if json_size is not None:
            headers[HEADER_LENGTH] = str(json_size)
        return self._exchange("POST", path, body, headers, seconds, ceiling)

    def cancel(self) -> None:
        """Cut the exchange in flight, and refuse any later one."""
        self._cancelled.set()
        self._cut()

    def close(self) -> None:
        self.cancel()
        self._connection = None

    def _exchange(self, method: str, path: str, body: bytes | None, headers: dict[str, str], seconds: float,
                  ceiling: int) -> Answer:
        if self._cancelled.is_set():
            raise Cancelled
        timed_out, over = threading.Event(), threading.Event()

        def on_deadline() -> None:
            with self._cut_lock:
                if not over.is_set():  # never the next exchange's socket
                    timed_out.set()
                    self._shut_down()

        timer = threading.Timer(seconds, on_deadline)
        timer.daemon = True
        timer.start()
        try:
            connection = self._connected(seconds)
            connection.request(method, quote(path), body, {**self._headers, **headers})
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, _read(response, ceiling))
        except BaseException as error:
            self._drop()  # a connection left mid-exchange cannot carry another request
            if self._cancelled.is_set() and not isinstance(error, KeyboardInterrupt):
                raise Cancelled from None
            if timed_out.is_set() and isinstance(error, (OSError, http.client.HTTPException)):
                raise TimeoutError from None
            raise
        finally:
            with self._cut_lock:
                over.set()
            timer.cancel()
        if response.will_close or timed_out.is_set():  # a deadline just as the answer ended cut the socket
            self._drop()
        return answer

    def _connected(self, seconds: float) -> http.client.HTTPConnection:
        with self._cut_lock:
            if self._connection is None:
                if self._context is not None:
                    self._connection = http.client.HTTPSConnection(self._host, self._port, timeout=seconds,
                                                                   context=self._context)
                else:
                    self._connection = http.client.HTTPConnection(self._host, self._port, timeout=seconds)
            connection = self._connection
        if connection.sock is not None:
            connection.sock.settimeout(seconds)  # a backstop: the deadline's timer comes first
        else:
            connection.timeout = seconds
        return connection

    def _cut(self) -> None:
        with self._cut_lock:
            self._shut_down()

    def _shut_down(self) -> None:
        """Shut the socket down (the cut lock held): a read or write blocked in it returns at once, in
        whichever thread."""
        sock = self._connection.sock if self._connection is not None else None
        if sock is not None:
            try:
                # The plain socket's own shutdown: an SSL socket's would touch the TLS state another
                # thread is reading with.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed or never connected

    def _drop(self) -> None:
        with self._cut_lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _read(response: http.client.HTTPResponse, ceiling: int) -> bytes:
    """The whole body, in pieces, refused as soon as it is known to pass ``ceiling``."""
    if response.length is not None and response.length > ceiling:
        raise AnswerTooLarge(response.length, ceiling)
    body = bytearray()
    while piece := response.read(min(CHUNK, ceiling + 1 - len(body))):
        body += piece
        if len(body) > ceiling:
            raise AnswerTooLarge(None, ceiling)
    if response.length:  # http.client leaves a short body to the caller
        raise http.client.IncompleteRead(bytes(body))
    return bytes(body)
