"""A model served by OpenVINO Model Server, Triton or any KServe v2 server: one more engine for the pipeline.

``-m http://HOST:PORT/v2/models/NAME[/versions/V]`` (or ``https``, ``grpc``, ``grpcs``) names it. The
model's metadata (and OVMS's rt_info, over REST) becomes a signature-only ``ov.Model`` that goes
through the same recognition as a local file. Frames are fitted to the network's size here (OpenCV,
``--preprocess host``, the default for a served model) unless asked otherwise. A served model that takes
u8 NHWC frames of any size (``python -m demo export``; its rt_info says ``embedded_processing``) gets the
fitted frame (``--preprocess model``: the whole frame), which its graph's fit leaves as it is; one with
the raw network input gets its input prepared here by a small local OpenVINO model made of the demo's
own pre-processing steps (:func:`demo.model.loading.prepare`; the fit too with ``--preprocess model``),
so the geometry is the same code as a local model's. Requests carry binary tensors, each worker thread
of a :class:`RemoteQueue` with its own client, ``-nireq`` of them in flight: over gRPC through
``tritonclient``, over REST on the demo's own transport (:mod:`demo.model.remote_rest`) with
``tritonclient``'s bodies. Every wait has a deadline on the whole of it and yields to a stop; every
answer is checked against the metadata, and against a byte ceiling derived from it, before it is decoded.

Credentials and certificates come from the environment, never from a flag that ``ps`` shows.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import queue
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from openvino.op.util import Variable, VariableInfo

from demo.core.errors import DemoError, UsageError
from demo.core.extras import require_extra
from demo.core.names import redact
from demo.core.stopping import STOP
from demo.core.wording import counted
from demo.frames.live import BACKOFF_FIRST_S, BACKOFF_MAX_S
from demo.model.geometry import FitPlace, ResizePolicy
from demo.model.inference import Callback, Inputs, LocalEngine
from demo.model.loading import (
    LoadedModel,
    LoadOptions,
    Network,
    fits_on_host,
    identity_of,
    prepare,
    preprocessing_of,
    recognised,
)
from demo.model.model_info import SECTION, ModelInfo, model_info_of
from demo.model.remote_rest import Answer, AnswerTooLarge, Cancelled, RestConnection

log = logging.getLogger("demo")

SCHEMES = ("http", "https", "grpc", "grpcs")
_ADDRESS = re.compile(r"(?P<scheme>[a-z]+)://(?P<host>\[[0-9a-fA-F:.]+\]|[^/:@\[\]]+)(?::(?P<port>\d{1,5}))?"
                      r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>\d+))?/?")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Requests in flight when -nireq is 0: enough to keep a server's few CPU streams busy while the
# network carries the next frame, few enough that a live frame waits behind little.
DEFAULT_REQUESTS = 4
# Environment variables (never flags: a flag shows in ps).
TOKEN_VARIABLE = "DEMO_KSERVE_TOKEN"  # Authorization: Bearer
USER_VARIABLE, PASSWORD_VARIABLE = "DEMO_KSERVE_USER", "DEMO_KSERVE_PASSWORD"  # Authorization: Basic
CA_VARIABLE = "DEMO_KSERVE_CA_FILE"  # a PEM file of the CAs to trust for https/grpcs; else the system's
CONNECT_TIMEOUT_VARIABLE, REQUEST_TIMEOUT_VARIABLE = "DEMO_KSERVE_CONNECT_TIMEOUT", "DEMO_KSERVE_REQUEST_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_REQUEST_TIMEOUT_S = 10.0, 30.0
# How often a wait looks whether a stop came: well inside the second a stop may take.
STOP_SLICE_S = 0.1
STOP_GRACE_S = 0.5  # what a stop waits for the cut requests to end
DATATYPES = {"BOOL": ov.Type.boolean, "UINT8": ov.Type.u8, "INT8": ov.Type.i8, "UINT16": ov.Type.u16,
             "INT16": ov.Type.i16, "UINT32": ov.Type.u32, "INT32": ov.Type.i32, "UINT64": ov.Type.u64,
             "INT64": ov.Type.i64, "FP16": ov.Type.f16, "FP32": ov.Type.f32, "FP64": ov.Type.f64}
# HTTP statuses and gRPC codes that a restarting or overloaded server gives (and an answer too large,
# which a server answering garbage gives): a live run waits them out.
PASSING_FAILURES = {"404", "502", "503", "504", "StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED",
                    "StatusCode.NOT_FOUND", "StatusCode.CANCELLED", "StatusCode.RESOURCE_EXHAUSTED"}


def is_remote(spec: object) -> bool:
    """Whether a -m value names a served model rather than a file or a catalogue name."""
    scheme, separator, _ = str(spec).partition("://")
    return bool(separator) and scheme.lower() in SCHEMES


@dataclass(frozen=True)
class Endpoint:
    """Where a served model is: ``scheme://host:port/v2/models/name[/versions/version]``."""

    scheme: str
    host: str
    port: int
    name: str
    version: str = ""  # "": the server's choice (the newest)

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        found = _ADDRESS.fullmatch(url)
        if "@" in url.partition("/v2/")[0]:
            raise UsageError(f"-m {redact(url)}: credentials in the address show in ps; set {TOKEN_VARIABLE}, or "
                             f"{USER_VARIABLE} and {PASSWORD_VARIABLE}, instead")
        if found is None or found["scheme"] not in SCHEMES:
            raise UsageError(f"-m {redact(url)}: not a served model's address; expected "
                             "http|https|grpc|grpcs://HOST:PORT/v2/models/NAME[/versions/N]")
        port = int(found["port"]) if found["port"] else DEFAULT_PORTS.get(found["scheme"])
        if port is None or not 0 < port < 65536:
            raise UsageError(f"-m {url}: give the server's port (HOST:PORT); gRPC has no default port")
        return cls(found["scheme"], found["host"], port, found["name"], found["version"] or "")

    @property
    def grpc(self) -> bool:
        return self.scheme.startswith("grpc")

    @property
    def tls(self) -> bool:
        return self.scheme in ("https", "grpcs")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        version = f"/versions/{self.version}" if self.version else ""
        return f"{self.scheme}://{self.address}/v2/models/{self.name}{version}"


@dataclass(frozen=True)
class Access:
    """What the environment says about reaching servers: credentials, trusted CAs and time-outs (seconds)."""

    headers: dict[str, str] = field(default_factory=dict)
    ca_file: Path | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Access:
        env = os.environ if environ is None else environ
        token, user, password = (env.get(name) for name in (TOKEN_VARIABLE, USER_VARIABLE, PASSWORD_VARIABLE))
        if token and user:
            raise UsageError(f"set {TOKEN_VARIABLE} or {USER_VARIABLE}, not both")
        if bool(user) != bool(password):
            raise UsageError(f"{USER_VARIABLE} and {PASSWORD_VARIABLE} go together")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if user:
            headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        ca_file = Path(env[CA_VARIABLE]) if env.get(CA_VARIABLE) else None
        if ca_file and not ca_file.is_file():
            raise UsageError(f"{CA_VARIABLE}: {ca_file} is not a file")
        return cls(headers, ca_file, _seconds(env, CONNECT_TIMEOUT_VARIABLE, DEFAULT_CONNECT_TIMEOUT_S),
                   _seconds(env, REQUEST_TIMEOUT_VARIABLE, DEFAULT_REQUEST_TIMEOUT_S))


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"{name} should be a positive number of seconds, not {text!r}")
    return value


class ServerFailure(DemoError):
    """A request the server did not answer; ``passing`` when a restarting server gives it."""

    def __init__(self, message: str, passing: bool):
        super().__init__(message)
        self.passing = passing


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 where dynamic


@dataclass(frozen=True)
class Metadata:
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    rt_info: dict = field(default_factory=dict)  # OVMS's, over REST only: gRPC's metadata has no field for it


def _tensors(entries: object, endpoint: Endpoint, side: str) -> tuple[Tensor, ...]:
    """The metadata's inputs or outputs, each checked to be what KServe v2 says it is."""
    try:
        tensors = tuple(Tensor(_text(e["name"]), _text(e["datatype"]), tuple(_dimension(d) for d in e.get("shape", [])))
                        for e in entries or [])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DemoError(f"{endpoint}: the server's metadata is malformed: its {side} are not a list of "
                        f"{{name, datatype, shape}} ({type(error).__name__}: {_one_line(str(error))})") from None
    return tensors


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def _dimension(value: object) -> int:
    """A dimension as KServe gives it: a number, or (gRPC's JSON) a number in a string; -1 where dynamic."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"the dimension {value!r} is not an integer")
    number = int(value)
    if number < -1:
        raise ValueError(f"the dimension {number} is negative")
    return number


def metadata_of(found: object, endpoint: Endpoint) -> Metadata:
    if not isinstance(found, dict):
        raise DemoError(f"{endpoint}: the server's metadata is malformed: not a JSON object")
    rt_info = found.get("rt_info") or {}
    return Metadata(_tensors(found.get("inputs"), endpoint, "inputs"),
                    _tensors(found.get("outputs"), endpoint, "outputs"), rt_info if isinstance(rt_info, dict) else {})


# The byte ceiling of an answer: a dynamic dimension counts as this many (instances, most often: more
# than any segmentation model keeps per frame), the JSON part and framing as HEADER_ALLOWANCE.
DYNAMIC_DIMENSION_ALLOWANCE = 1000
HEADER_ALLOWANCE = 1 << 20
METADATA_CEILING = 16 << 20  # a model's metadata with its rt_info is kilobytes


def answer_ceiling(outputs: tuple[Tensor, ...]) -> int:
    """The most bytes an answer of these outputs can take: a larger one is refused before it is read."""
    return HEADER_ALLOWANCE + sum(
        _itemsize(t.datatype) * int(np.prod([d if d >= 0 else DYNAMIC_DIMENSION_ALLOWANCE for d in t.shape]))
        for t in outputs)


def _itemsize(datatype: str) -> int:
    from tritonclient.utils import triton_to_np_dtype
    return np.dtype(triton_to_np_dtype(datatype)).itemsize


@dataclass(frozen=True)
class Answered:
    """What an answer says of one output, before anything is decoded."""

    datatype: str
    shape: tuple[int, ...]
    size: int | None  # its bytes; None: not sent as binary data


def check_answer(endpoint: Endpoint, outputs: tuple[Tensor, ...], answered: dict[str, Answered]) -> None:
    """Refuses, with one line naming the output and what differed, an answer the metadata does not allow."""
    for tensor in outputs:
        got = answered.get(tensor.name)
        if got is None:
            problem = "is missing"
        elif got.datatype != tensor.datatype:
            problem = f"is {got.datatype}, the metadata says {tensor.datatype}"
        elif len(got.shape) != len(tensor.shape) or any(
                g < 0 or (want >= 0 and g != want) for g, want in zip(got.shape, tensor.shape)):
            problem = f"has the shape {list(got.shape)}, the metadata says {list(tensor.shape)}"
        elif got.size is None:
            problem = "is not binary data"
        elif got.size != _itemsize(got.datatype) * int(np.prod(got.shape)):
            problem = f"has {got.size} bytes for the shape {list(got.shape)} of {got.datatype}"
        else:
            continue
        raise ServerFailure(f"{endpoint}: the answer does not match the metadata: output {tensor.name} {problem}",
                            True)


class _RestClient:
    """KServe v2 over REST: tritonclient's bodies on the demo's own transport (:mod:`demo.model.remote_rest`)."""

    def __init__(self, endpoint: Endpoint, access: Access, ceiling: int):
        context = ssl.create_default_context(cafile=access.ca_file) if endpoint.tls else None
        self.endpoint, self.access, self.ceiling = endpoint, access, ceiling
        self._connection = RestConnection(endpoint.host, endpoint.port, context, access.headers)
        version = f"/versions/{endpoint.version}" if endpoint.version else ""
        self._path = f"/v2/models/{endpoint.name}{version}"

    def metadata(self) -> Metadata:
        with failures(self.endpoint, "metadata"):
            answer = self._connection.get(self._path, self.access.connect_timeout, METADATA_CEILING)
            _refused(answer)
        try:
            found = json.loads(answer.body)
        except ValueError as error:
            raise DemoError(f"{self.endpoint}: the server's metadata is not JSON ({_one_line(str(error))})") from None
        return metadata_of(found, self.endpoint)

    def infer(self, inputs: list[tuple[Tensor, np.ndarray]], outputs: tuple[Tensor, ...]) -> list[np.ndarray]:
        import tritonclient.http as client
        sent = _infer_inputs(client, inputs, binary_data=True)
        wanted = [client.InferRequestedOutput(t.name, binary_data=True) for t in outputs]
        body, json_size = client.InferenceServerClient.generate_request_body(sent, wanted)
        with failures(self.endpoint, "inference"):
            answer = self._connection.post(f"{self._path}/infer", body, json_size, self.access.request_timeout,
                                           self.ceiling)
            _refused(answer)
        if answer.headers.get("Content-Encoding", "identity") != "identity":
            # Not asked for (no Accept-Encoding), and it would unpack past the ceiling the body was read with.
            raise ServerFailure(f"{self.endpoint}: the server sent a compressed answer, which was not asked for",
                                True)
        with malformed(self.endpoint):
            length = answer.headers.get("Inference-Header-Content-Length")
            result = client.InferResult.from_response_body(answer.body, header_length=int(length) if length else None)
            check_answer(self.endpoint, outputs, _rest_outputs(result.get_response()))
            return [result.as_numpy(t.name) for t in outputs]

    def cancel(self) -> None:
        self._connection.cancel()

    def close(self) -> None:
        self._connection.close()


def _infer_inputs(client: object, inputs: list[tuple[Tensor, np.ndarray]], **binary: bool) -> list:
    """The inputs as tritonclient's InferInput of ``client`` (its http or grpc module)."""
    sent = []
    for tensor, array in inputs:
        given = client.InferInput(tensor.name, list(array.shape), tensor.datatype)
        given.set_data_from_numpy(np.ascontiguousarray(array), **binary)
        sent.append(given)
    return sent


def _refused(answer: Answer) -> None:
    """A refusal (401, 404, 503, …) as tritonclient's own exception, which :func:`failures` words."""
    from tritonclient.utils import InferenceServerException
    if answer.status != 200:
        raise InferenceServerException(answer.error_message(), status=str(answer.status))


def _rest_outputs(response: object) -> dict[str, Answered]:
    answered = {}
    for output in response["outputs"]:
        size = (output.get("parameters") or {}).get("binary_data_size")
        answered[_text(output["name"])] = Answered(_text(output["datatype"]), tuple(map(_dimension, output["shape"])),
                                                   size if isinstance(size, int) else None)
    return answered


class _GrpcClient:
    """KServe v2 over gRPC: tritonclient's client; its calls have whole deadlines and a receive ceiling of
    their own, and each request is waited for in slices so that :meth:`cancel` ends it at once."""

    def __init__(self, endpoint: Endpoint, access: Access, ceiling: int):
        import tritonclient.grpc as client
        certificates = str(access.ca_file) if access.ca_file else None
        self.endpoint, self.access = endpoint, access
        self._client = client.InferenceServerClient(
            endpoint.address, ssl=endpoint.tls, root_certificates=certificates,
            channel_args=[("grpc.max_receive_message_length", ceiling)])
        self._cancelled = threading.Event()
        self._calls: set = set()

    def metadata(self) -> Metadata:
        e = self.endpoint
        with failures(e, "metadata"):
            found = self._client.get_model_metadata(e.name, e.version, headers=self.access.headers, as_json=True,
                                                    client_timeout=self.access.connect_timeout)
        return metadata_of(found, e)

    def infer(self, inputs: list[tuple[Tensor, np.ndarray]], outputs: tuple[Tensor, ...]) -> list[np.ndarray]:
        import tritonclient.grpc as client
        e = self.endpoint
        sent = _infer_inputs(client, inputs)  # gRPC tensors are always binary
        wanted = [client.InferRequestedOutput(t.name) for t in outputs]
        with failures(e, "inference"):
            result = self._call(lambda done: self._client.async_infer(
                e.name, sent, done, e.version, wanted, headers=self.access.headers,
                client_timeout=self.access.request_timeout))
        with malformed(e):
            check_answer(e, outputs, _grpc_outputs(result.get_response()))
            return [result.as_numpy(t.name) for t in outputs]

    def _call(self, start: Callable[[Callable[[object, BaseException | None], None]], object]) -> object:
        """An asynchronous call waited for in slices: cut by :meth:`cancel`, and never longer than its deadline."""
        finished = threading.Event()
        outcome: list = []
        call = start(lambda result, error: (outcome.extend((result, error)), finished.set()))
        self._calls.add(call)
        try:
            deadline = time.monotonic() + self.access.request_timeout + 1  # gRPC's own deadline comes first
            while not finished.wait(STOP_SLICE_S):
                if self._cancelled.is_set():
                    raise Cancelled
                if time.monotonic() > deadline:
                    raise TimeoutError
        finally:
            self._calls.discard(call)
            if not finished.is_set():
                call.cancel()
        result, error = outcome
        if error is not None:
            raise Cancelled if self._cancelled.is_set() else error  # a cancel also ends the call with an error
        return result

    def cancel(self) -> None:
        self._cancelled.set()
        for call in list(self._calls):
            call.cancel()

    def close(self) -> None:
        self.cancel()
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - a broken connection may not close cleanly; it is dropped anyway
            pass


def _grpc_outputs(response: object) -> dict[str, Answered]:
    contents = response.raw_output_contents
    return {output.name: Answered(output.datatype, tuple(output.shape),
                                  len(contents[index]) if index < len(contents) else None)
            for index, output in enumerate(response.outputs)}


def client_for(endpoint: Endpoint, access: Access, ceiling: int = METADATA_CEILING) -> _RestClient | _GrpcClient:
    """One client of the endpoint's protocol (not shared between threads), refusing answers above ``ceiling``."""
    require_extra(f"tritonclient.{'grpc' if endpoint.grpc else 'http'}", "remote inference", "remote")
    return (_GrpcClient if endpoint.grpc else _RestClient)(endpoint, access, ceiling)


@contextmanager
def failures(endpoint: Endpoint, what: str) -> Iterator[None]:
    """Whatever tritonclient, gRPC, the transport or the socket raise, as one :class:`ServerFailure` line."""
    from tritonclient.utils import InferenceServerException
    try:
        yield
    except InferenceServerException as error:
        status = str(error.status() or "")
        message = _one_line(error.message() or str(error))
        if status in ("404", "StatusCode.NOT_FOUND") and what == "metadata":
            reason = f"the server has no such model ({message})"
        elif status == "StatusCode.DEADLINE_EXCEEDED":
            reason = "timed out waiting for the server"
        elif status == "StatusCode.UNAVAILABLE":
            reason = f"cannot reach the server ({message})"
        elif status == "StatusCode.RESOURCE_EXHAUSTED":
            reason = f"the answer is larger than the model's outputs can be ({message})"
        elif status == "StatusCode.CANCELLED":  # by the server (this side's own cancel raises Cancelled)
            reason = f"the server dropped the {what} request ({message})"
        else:
            reason = f"the server refused the {what} request ({status} {message})"
        raise ServerFailure(f"{endpoint}: {reason}", status in PASSING_FAILURES) from None
    except Cancelled:
        raise RequestCancelled(f"{endpoint}: the {what} request was cancelled", False) from None
    except AnswerTooLarge as error:
        raise ServerFailure(f"{endpoint}: {error}", True) from None
    except TimeoutError:
        raise ServerFailure(f"{endpoint}: timed out waiting for the server", True) from None
    except (OSError, http.client.HTTPException) as error:
        reason = _one_line(str(error)) if isinstance(error, OSError) else ""
        raise ServerFailure(f"{endpoint}: cannot reach the server ({reason or _connection_lost(error)})",
                            True) from None


def _connection_lost(error: BaseException) -> str:
    if isinstance(error, http.client.IncompleteRead):
        return "the connection closed in the middle of the answer"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    return type(error).__name__


@contextmanager
def malformed(endpoint: Endpoint) -> Iterator[None]:
    """An answer that cannot be parsed (not KServe v2's JSON or binary layout), as one line."""
    try:
        yield
    except ServerFailure:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, UnicodeDecodeError) as error:
        raise ServerFailure(f"{endpoint}: the server's answer is malformed ({type(error).__name__}: "
                            f"{_one_line(str(error))[:200]})", True) from None


class RequestCancelled(ServerFailure):
    """A request cut short by a stop or by the engine closing: not a fault of the server."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def read_metadata(endpoint: Endpoint, access: Access) -> Metadata:
    client = client_for(endpoint, access)
    try:
        return client.metadata()
    finally:
        client.close()


# The signature-only model: the served model's ports, for recognition ------------------------------


def _partial_shape(shape: tuple[int, ...]) -> ov.PartialShape:
    return ov.PartialShape([ov.Dimension() if d < 0 else ov.Dimension(d) for d in shape])


def _element_type(tensor: Tensor, endpoint: Endpoint) -> ov.Type:
    if tensor.datatype not in DATATYPES:
        raise DemoError(f"{endpoint}: tensor {tensor.name} has the datatype {tensor.datatype}, which no "
                        "segmentation contract takes")
    return DATATYPES[tensor.datatype]


def _parameter(tensor: Tensor, element_type: ov.Type, shape: ov.PartialShape) -> ov.Node:
    node = ops.parameter(shape, element_type, name=tensor.name)
    node.output(0).set_names({tensor.name})
    return node


def _signature_output(tensor: Tensor, element_type: ov.Type) -> ov.Node:
    """A port of the served output's name, type and shape, computed from nothing: a variable's read
    has no inputs, so the model's inputs stay the served model's own."""
    info = VariableInfo()
    info.data_shape, info.data_type, info.variable_id = _partial_shape(tensor.shape), element_type, tensor.name
    read = ops.read_value(Variable(info))
    read.output(0).set_names({tensor.name})
    return ops.result(read)


def _set_rt_info(model: ov.Model, tree: dict, path: list[str]) -> None:
    for key, value in tree.items():
        if isinstance(value, dict):
            _set_rt_info(model, value, [*path, key])
        else:
            model.set_rt_info(str(value), [*path, key])


def embedded_frames(tensor: Tensor) -> bool:
    """Whether an input takes frames as the demo's export makes them: u8 [1,H,W,3] of any size."""
    return tensor.datatype == "UINT8" and len(tensor.shape) == 4 and tensor.shape[3] == 3 \
        and tensor.shape[1] < 0 and tensor.shape[2] < 0


def signature_model(metadata: Metadata, endpoint: Endpoint, network_size: tuple[int, int] | None) -> ov.Model:
    """An ``ov.Model`` with the served model's ports and rt_info; with ``network_size`` (w, h), frame
    inputs appear as the network input they are prepared for (f32 [1,3,h,w]), as recognition needs."""
    parameters = []
    for tensor in metadata.inputs:
        if network_size and embedded_frames(tensor):
            width, height = network_size
            parameters.append(_parameter(tensor, ov.Type.f32, ov.PartialShape([1, 3, height, width])))
        else:
            parameters.append(_parameter(tensor, _element_type(tensor, endpoint), _partial_shape(tensor.shape)))
    results = [_signature_output(t, _element_type(t, endpoint)) for t in metadata.outputs]
    model = ov.Model(results, parameters, endpoint.name)
    _set_rt_info(model, metadata.rt_info, [])
    return model


# Requests ------------------------------------------------------------------------------------------


class RemoteEngine:
    """A served model: the frames' inputs (prepared here when the served model does not) sent by name."""

    def __init__(self, endpoint: Endpoint, access: Access, metadata: Metadata, prepare: ov.CompiledModel | None,
                 reconnect: int | None):
        self.endpoint, self.access, self.metadata = endpoint, access, metadata
        self.prepare = prepare  # the client-side pre-processing, None when the served model does it
        self.reconnect = reconnect  # attempts to reach a lost server again (a live run); None: keep trying
        self.ceiling = answer_ceiling(metadata.outputs)
        self._outage = _Outage(str(endpoint))
        self._link: _Link | None = None
        self._queues: list[RemoteQueue] = []

    def requests(self, count: int) -> RemoteQueue:
        made = RemoteQueue(self, count or DEFAULT_REQUESTS)
        self._queues.append(made)
        return made

    def infer(self, inputs: Inputs) -> list[np.ndarray]:
        if self._link is None:
            self._link = _Link(self)
        return self.attempt(self._link, inputs, threading.Event())

    def config(self) -> dict[str, str]:
        return {"SERVER": self.endpoint.address, "PROTOCOL": "gRPC" if self.endpoint.grpc else "REST",
                "MODEL": self.endpoint.name, "VERSION": self.endpoint.version or "newest",
                "PREPROCESSING": "on this machine (CPU)" if self.prepare else "in the served model"}

    def close(self) -> None:
        """Cut the requests in flight and release every connection and worker thread; again does nothing."""
        for made in self._queues:
            made.close()
        if self._queues or self._link is not None:
            self._outage.summarise()
        self._queues.clear()
        link, self._link = self._link, None
        if link is not None:
            link.client.close()

    def attempt(self, link: _Link, inputs: Inputs, giving_up: threading.Event) -> list[np.ndarray]:
        """One request's outputs; for a live run a lost server is waited for, with doubling waits,
        until it answers or ``giving_up`` is set. A request is sent again until it is answered, so no
        frame goes missing from the order; those sent again are counted."""
        delay, attempts = BACKOFF_FIRST_S, 0
        while True:
            try:
                outputs = link.infer(inputs)
            except ServerFailure as failure:
                if not (self.reconnect != 0 and failure.passing) or giving_up.is_set():
                    raise
                if self.reconnect is not None and attempts >= self.reconnect:
                    raise ServerFailure(f"{failure}, and it did not come back after {attempts} reconnection "
                                        "attempts", False) from None
                attempts += 1
                self._outage.began(failure, first_retry=attempts == 1)
                link.reconnect()
                if giving_up.wait(delay):
                    raise
                delay = min(2 * delay, BACKOFF_MAX_S)
                continue
            self._outage.ended()
            return outputs


class _Outage:
    """Says once that the server is lost and once that it is back, however many requests notice,
    with how many requests in flight were sent again."""

    def __init__(self, label: str):
        self.label = label
        self._since: float | None = None
        self._resent = 0  # requests sent again in this outage
        self._outages = self._all_resent = 0  # over the run, for its summary
        self._lock = threading.Lock()

    def began(self, failure: ServerFailure, first_retry: bool) -> None:
        with self._lock:
            if self._since is None:
                self._since = time.perf_counter()
                self._outages += 1
                log.warning("%s; reconnecting", failure)
            self._resent += first_retry
            self._all_resent += first_retry

    def ended(self) -> None:
        with self._lock:
            if self._since is not None:
                log.info("%s is back after %.1f s; %s in flight %s sent again, none lost", self.label,
                         time.perf_counter() - self._since, counted(self._resent, "request"),
                         "was" if self._resent == 1 else "were")
                self._since, self._resent = None, 0

    def summarise(self) -> None:
        """The run's outages and the requests they made the demo send again, once, when the engine closes."""
        with self._lock:
            if self._outages:
                log.info("%s was lost %s during the run; %s sent again, none lost", self.label,
                         counted(self._outages, "time"), counted(self._all_resent, "request"))


class _Link:
    """One worker's own client and, for a raw served model, its own pre-processing request."""

    def __init__(self, engine: RemoteEngine):
        self.engine = engine
        self.client = client_for(engine.endpoint, engine.access, engine.ceiling)
        self.prepare = engine.prepare.create_infer_request() if engine.prepare else None

    def infer(self, inputs: Inputs) -> list[np.ndarray]:
        if self.prepare is not None:
            self.prepare.infer(inputs, share_inputs=True)
            inputs = {index: tensor.data for index, tensor in enumerate(self.prepare.output_tensors)}
        meta = self.engine.metadata
        return self.client.infer([(meta.inputs[i], array) for i, array in inputs.items()], meta.outputs)

    def reconnect(self) -> None:
        """A new client: a connection the server dropped is not reused."""
        self.client.close()
        self.client = client_for(self.engine.endpoint, self.engine.access, self.engine.ceiling)


class RemoteQueue:
    """``count`` worker threads, each with its own connection, taking requests in turn.

    A failed request calls back with its :class:`ServerFailure`; without a callback the failure is
    raised by the next call. :meth:`wait_all` makes a live run's requests that wait for a lost server
    give up, so that a run that stops is never held by a server that is away; after a stop (Ctrl-C,
    SIGTERM) it also cuts the requests in flight, so that the stop takes less than a second.
    """

    def __init__(self, engine: RemoteEngine, count: int):
        self.engine = engine
        self._count = count
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._busy = 0
        self._changed = threading.Condition()
        self._callback: Callback | None = None
        self._failure: BaseException | None = None
        self._giving_up = threading.Event()
        self._workers: list[threading.Thread] = []
        self._links: list[_Link] = []
        self._closed = False

    def __len__(self) -> int:
        return self._count

    def set_callback(self, callback: Callback) -> None:
        self._callback = callback

    def start_async(self, inputs: Inputs, userdata: object = None) -> None:
        self._raise_failure()
        if self._closed:
            raise DemoError(f"{self.engine.endpoint}: the engine is closed")
        if not self._workers:
            self._workers = [threading.Thread(target=self._work, name=f"kserve-{i}", daemon=True)
                             for i in range(self._count)]
            for worker in self._workers:
                worker.start()
        with self._changed:
            self._changed.wait_for(lambda: self._busy < self._count)
            self._busy += 1
        self._jobs.put((inputs, userdata))

    def get_idle_request_id(self) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._busy < self._count)
            return self._busy

    def wait_all(self) -> None:
        self._giving_up.set()
        cut_at: float | None = None
        try:
            with self._changed:
                while self._busy:
                    if STOP.signal is not None and cut_at is None:
                        self._cut()
                        cut_at = time.monotonic()
                    elif cut_at is not None and time.monotonic() - cut_at > STOP_GRACE_S:
                        break  # a connect still under way, which no cut reaches: a stopping process leaves it
                    self._changed.wait(STOP_SLICE_S)
        finally:
            self._giving_up.clear()
        self._raise_failure()

    def reset_state(self) -> None:
        raise DemoError(f"{self.engine.endpoint}: a served model keeps no state between requests")

    def close(self) -> None:
        """Cut what is in flight, end the workers and close their connections; again does nothing."""
        if self._closed:
            return
        self._closed = True
        self._giving_up.set()
        self._cut()
        for _ in self._workers:
            self._jobs.put(None)
        for worker in self._workers:
            worker.join(STOP_SLICE_S)

    def _cut(self) -> None:
        for link in list(self._links):
            link.client.cancel()

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _work(self) -> None:
        link: _Link | None = None
        try:
            while (job := self._jobs.get()) is not None:
                inputs, userdata = job
                try:
                    link = link or self._new_link()
                    outcome: list[np.ndarray] | BaseException = self.engine.attempt(link, inputs, self._giving_up)
                except BaseException as error:  # noqa: BLE001 - handed to the callback, or to the next call
                    outcome = error
                self._finish(outcome, userdata)
        finally:
            if link is not None:
                link.client.close()

    def _new_link(self) -> _Link:
        link = _Link(self.engine)
        self._links.append(link)
        return link

    def _finish(self, outcome: list[np.ndarray] | BaseException, userdata: object) -> None:
        try:
            if self._callback is not None:
                self._callback(outcome, userdata)
            elif isinstance(outcome, BaseException):
                self._failure = outcome
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()


# Loading -------------------------------------------------------------------------------------------


def network_size(metadata: Metadata, endpoint: Endpoint) -> tuple[int, int] | None:
    """The (w, h) a served model that prepares frames itself resizes them to, from its rt_info; None
    for a served model that takes the network input as it is."""
    if not any(embedded_frames(t) for t in metadata.inputs):
        return None
    stated = metadata.rt_info.get(SECTION, {})
    try:
        return int(stated["orig_width"]), int(stated["orig_height"])
    except (KeyError, TypeError, ValueError):
        over = " (KServe's gRPC metadata has no rt_info: give the REST address, http://...)" \
            if endpoint.grpc else ""
        raise DemoError(f"{endpoint}: the served model takes frames of any size but does not say the size "
                        f"its network sees (rt_info {SECTION} orig_width, orig_height){over}") from None


def load_served(core: ov.Core, url: str, options: LoadOptions, reconnect: int | None) -> LoadedModel:
    """Connect, read the served model's metadata, recognise it, and prepare frames here as far as it does not.

    Frames are fitted to the network here unless ``options`` say otherwise (this machine's CPU, by the rule
    of :func:`~demo.model.loading.fits_on_host`): a raw network then gets its input prepared from the fitted
    frame, and a model exported with its own pre-processing gets the fitted frame, at the network's size,
    which its graph's fit leaves as it is.
    """
    endpoint, access = Endpoint.parse(url), Access.from_environment()
    metadata = read_metadata(endpoint, access)
    if not metadata.inputs or not metadata.outputs:
        raise DemoError(f"{endpoint}: the server's metadata lists no inputs or no outputs")
    label = str(endpoint)
    size = network_size(metadata, endpoint)
    signature = signature_model(metadata, endpoint, size)
    info = model_info_of(signature, label)
    contract, plate = recognised(signature, label, info, options)
    if contract.stateful:
        raise DemoError(f"{label}: a recurrent matting model keeps its states in the infer request, which a "
                        "served model does not; run it locally")
    engine = RemoteEngine(endpoint, access, metadata, None, reconnect)
    preprocessing = preprocessing_of(contract, info, options.resize)
    fit_here = fits_on_host(options.fit, "CPU", (), preprocessing.pad_value, label)  # this machine's CPU
    again = partial(served_network, url, options, reconnect)
    if size is not None:  # exported with its own pre-processing, whose fit the served graph does
        input_size, policy = size, served_policy(options.resize, info, label)
    else:
        preparation = identity_of(signature)
        input_size = prepare(preparation, contract, preprocessing, label, fit_in_graph=not fit_here)
        engine.prepare = core.compile_model(preparation, "CPU")
        policy = preprocessing.policy
    return LoadedModel(engine, contract, input_size, policy, endpoint.name, info.labels, info.iou_threshold, plate,
                       fit_here, preprocessing.pad_value, again)


def served_network(url: str, options: LoadOptions, reconnect: int | None) -> Network:
    """The served network alone, for the benchmark's reference: a raw network fed its input prepared
    beforehand, or a model with its own pre-processing fed frames fitted beforehand to the network's size
    (its graph's fit then leaves them as they are). On a Core of its own, as load_network's."""
    served = load_served(ov.Core(), url, replace(options, fit=FitPlace.AUTO), reconnect)
    prepare_here = served.engine.prepare
    alone = RemoteEngine(served.engine.endpoint, served.engine.access, served.engine.metadata, None, reconnect)
    if prepare_here is None:
        return Network(alone, served, converts=False)
    return Network(alone, replace(served, engine=LocalEngine(prepare_here), _plates={}))


def served_policy(asked: ResizePolicy | None, info: ModelInfo, label: str) -> ResizePolicy:
    """The resize a served model with its own pre-processing does: --resize_type cannot change it."""
    if info.policy is None:
        raise DemoError(f"{label}: the served model prepares frames itself but does not say how it resizes "
                        f"them (rt_info {SECTION} resize_type)")
    if asked is not None and asked != info.policy:
        raise UsageError(f"{label}: the served model resizes with {info.policy.value} in its graph; "
                         f"--resize_type {asked.value} cannot change that")
    return info.policy
