"""A model served by OpenVINO Model Server, Triton or any KServe v2 server: one more engine for the pipeline.

``-m http://HOST:PORT/v2/models/NAME[/versions/V]`` (or ``https``, ``grpc``, ``grpcs``) names it. The
model's metadata (and OVMS's rt_info, over REST) becomes a signature-only ``ov.Model`` that goes
through the same recognition as a local file. A served model that takes u8 NHWC frames of any size
(``python -m demo export``; its rt_info says ``embedded_processing``) gets the frame as it is; one
with the raw network input gets the frame prepared here by a small local OpenVINO model made of the
demo's own pre-processing steps (:func:`demo.model.embed_preprocessing`), so the geometry is the same
code as the in-graph path. Requests go through ``tritonclient`` with binary tensors, each worker
thread of a :class:`RemoteQueue` with its own client, ``-nireq`` of them in flight.

Credentials and certificates come from the environment, never from a flag that ``ps`` shows.
"""
from __future__ import annotations

import base64
import logging
import os
import queue
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops
from openvino.op.util import Variable, VariableInfo

from .contracts import RecurrentMattingContract
from .errors import DemoError, UsageError
from .extras import require_extra
from .geometry import ResizePolicy
from .inference import Callback, Inputs
from .live import BACKOFF_FIRST_S, BACKOFF_MAX_S, redact
from .model import LoadedModel, LoadOptions, embed_preprocessing, first_stated, recognised
from .model_info import SECTION, ModelInfo, model_info_of

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
DATATYPES = {"BOOL": ov.Type.boolean, "UINT8": ov.Type.u8, "INT8": ov.Type.i8, "UINT16": ov.Type.u16,
             "INT16": ov.Type.i16, "UINT32": ov.Type.u32, "INT32": ov.Type.i32, "UINT64": ov.Type.u64,
             "INT64": ov.Type.i64, "FP16": ov.Type.f16, "FP32": ov.Type.f32, "FP64": ov.Type.f64}
# HTTP statuses and gRPC codes that a restarting server gives: a live run waits them out.
PASSING_FAILURES = {"404", "502", "503", "504", "StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED",
                    "StatusCode.NOT_FOUND"}


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


def _tensors(entries: list[dict]) -> tuple[Tensor, ...]:
    return tuple(Tensor(e["name"], e["datatype"], tuple(int(d) for d in e.get("shape", []))) for e in entries)


class _Client:
    """One tritonclient client (not shared between threads: the HTTP one is not thread-safe)."""

    def __init__(self, endpoint: Endpoint, access: Access):
        self.endpoint, self.access = endpoint, access
        if endpoint.grpc:
            client = require_extra("tritonclient.grpc", "remote inference", "remote")
            certificates = str(access.ca_file) if access.ca_file else None
            self._client = client.InferenceServerClient(endpoint.address, ssl=endpoint.tls,
                                                        root_certificates=certificates)
        else:
            client = require_extra("tritonclient.http", "remote inference", "remote")
            context = (lambda: ssl.create_default_context(cafile=access.ca_file)) if endpoint.tls else None
            self._client = client.InferenceServerClient(
                endpoint.address, connection_timeout=access.connect_timeout, network_timeout=access.request_timeout,
                ssl=endpoint.tls, ssl_context_factory=context)
        self._module = client

    def metadata(self) -> Metadata:
        e = self.endpoint
        timeout = {"as_json": True, "client_timeout": self.access.connect_timeout} if e.grpc else {}
        with failures(e, "metadata"):
            found = self._client.get_model_metadata(e.name, e.version, headers=self.access.headers, **timeout)
        return Metadata(_tensors(found.get("inputs", [])), _tensors(found.get("outputs", [])),
                        found.get("rt_info") or {})

    def infer(self, inputs: list[tuple[Tensor, np.ndarray]], outputs: tuple[Tensor, ...]) -> list[np.ndarray]:
        e = self.endpoint
        binary = {} if e.grpc else {"binary_data": True}  # gRPC tensors are always binary
        sent = []
        for tensor, array in inputs:
            given = self._module.InferInput(tensor.name, list(array.shape), tensor.datatype)
            given.set_data_from_numpy(np.ascontiguousarray(array), **binary)
            sent.append(given)
        wanted = [self._module.InferRequestedOutput(t.name, **binary) for t in outputs]
        timeout = {"client_timeout": self.access.request_timeout} if e.grpc else {}
        with failures(e, "inference"):
            result = self._client.infer(e.name, sent, e.version, wanted, headers=self.access.headers, **timeout)
        return [result.as_numpy(t.name) for t in outputs]

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - a broken connection may not close cleanly; it is dropped anyway
            pass


@contextmanager
def failures(endpoint: Endpoint, what: str) -> Iterator[None]:
    """Whatever tritonclient, gevent or the socket raise, as one :class:`ServerFailure` line."""
    from tritonclient.utils import InferenceServerException
    try:
        from gevent import Timeout as GeventTimeout
    except ImportError:  # only the HTTP client brings gevent
        GeventTimeout = TimeoutError  # noqa: N806
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
        else:
            reason = f"the server refused the {what} request ({status} {message})"
        raise ServerFailure(f"{endpoint}: {reason}", status in PASSING_FAILURES) from None
    except (TimeoutError, GeventTimeout):
        raise ServerFailure(f"{endpoint}: timed out waiting for the server", True) from None
    except OSError as error:
        raise ServerFailure(f"{endpoint}: cannot reach the server ({_one_line(str(error)) or type(error).__name__})",
                            True) from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def read_metadata(endpoint: Endpoint, access: Access) -> Metadata:
    client = _Client(endpoint, access)
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
        self._outage = _Outage(str(endpoint))
        self._link: _Link | None = None

    def requests(self, count: int) -> RemoteQueue:
        return RemoteQueue(self, count or DEFAULT_REQUESTS)

    def infer(self, inputs: Inputs) -> list[np.ndarray]:
        if self._link is None:
            self._link = _Link(self)
        return self.attempt(self._link, inputs, threading.Event())

    def config(self) -> dict[str, str]:
        return {"SERVER": self.endpoint.address, "PROTOCOL": "gRPC" if self.endpoint.grpc else "REST",
                "MODEL": self.endpoint.name, "VERSION": self.endpoint.version or "newest",
                "PREPROCESSING": "on this machine (CPU)" if self.prepare else "in the served model"}

    def attempt(self, link: _Link, inputs: Inputs, giving_up: threading.Event) -> list[np.ndarray]:
        """One request's outputs; for a live run a lost server is waited for, with doubling waits,
        until it answers or ``giving_up`` is set."""
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
                self._outage.began(failure)
                link.reconnect()
                if giving_up.wait(delay):
                    raise
                delay = min(2 * delay, BACKOFF_MAX_S)
                continue
            self._outage.ended()
            return outputs


class _Outage:
    """Says once that the server is lost and once that it is back, however many requests notice."""

    def __init__(self, label: str):
        self.label = label
        self._since: float | None = None
        self._lock = threading.Lock()

    def began(self, failure: ServerFailure) -> None:
        with self._lock:
            if self._since is None:
                self._since = time.perf_counter()
                log.warning("%s; reconnecting", failure)

    def ended(self) -> None:
        with self._lock:
            if self._since is not None:
                log.info("%s is back after %.1f s", self.label, time.perf_counter() - self._since)
                self._since = None


class _Link:
    """One worker's own client and, for a raw served model, its own pre-processing request."""

    def __init__(self, engine: RemoteEngine):
        self.engine = engine
        self.client = _Client(engine.endpoint, engine.access)
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
        self.client = _Client(self.engine.endpoint, self.engine.access)


class RemoteQueue:
    """``count`` worker threads, each with its own connection, taking requests in turn.

    A failed request calls back with its :class:`ServerFailure`; without a callback the failure is
    raised by the next call. :meth:`wait_all` makes a live run's requests that wait for a lost server
    give up, so that a run that stops is never held by a server that is away.
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

    def __len__(self) -> int:
        return self._count

    def set_callback(self, callback: Callback) -> None:
        self._callback = callback

    def start_async(self, inputs: Inputs, userdata: object = None) -> None:
        self._raise_failure()
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
        try:
            with self._changed:
                self._changed.wait_for(lambda: self._busy == 0)
        finally:
            self._giving_up.clear()
        self._raise_failure()

    def reset_state(self) -> None:
        raise DemoError(f"{self.engine.endpoint}: a served model keeps no state between requests")

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _work(self) -> None:
        link: _Link | None = None
        while True:
            inputs, userdata = self._jobs.get()
            try:
                link = link or _Link(self.engine)
                outcome: list[np.ndarray] | BaseException = self.engine.attempt(link, inputs, self._giving_up)
            except BaseException as error:  # noqa: BLE001 - handed to the callback, or to the next call
                outcome = error
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


def identity_of(signature: ov.Model) -> ov.Model:
    """A model that gives back its inputs, with the signature's input ports: the pre-processing is
    embedded into it to prepare frames on this machine exactly as the in-graph path does."""
    parameters = []
    for port in signature.inputs:
        parameter = ops.parameter(port.get_partial_shape(), port.get_element_type(), name=port.get_any_name())
        parameter.output(0).set_names(set(port.get_names()))
        parameters.append(parameter)
    return ov.Model([ops.result(p) for p in parameters], parameters, "preparation")


def load_served(core: ov.Core, url: str, options: LoadOptions, reconnect: int | None) -> LoadedModel:
    """Connect, read the served model's metadata, recognise it, and prepare frames here if it does not."""
    endpoint, access = Endpoint.parse(url), Access.from_environment()
    metadata = read_metadata(endpoint, access)
    if not metadata.inputs or not metadata.outputs:
        raise DemoError(f"{endpoint}: the server's metadata lists no inputs or no outputs")
    label = str(endpoint)
    size = network_size(metadata, endpoint)
    signature = signature_model(metadata, endpoint, size)
    info = model_info_of(signature, label)
    contract, plate = recognised(signature, label, info, options)
    if isinstance(contract, RecurrentMattingContract):
        raise DemoError(f"{label}: a recurrent matting model keeps its states in the infer request, which a "
                        "served model does not; run it locally")
    engine = RemoteEngine(endpoint, access, metadata, None, reconnect)
    if size is not None:
        return LoadedModel(engine, contract, size, served_policy(options.resize, info, label), endpoint.name,
                           info.labels, info.iou_threshold, plate)
    policy = first_stated(options.resize, info.policy, contract.preprocessing.policy, ResizePolicy.STRETCH)
    preparation = identity_of(signature)
    input_size = embed_preprocessing(preparation, contract, replace(info.preprocessing(contract.preprocessing),
                                                                    policy=policy), label)
    engine.prepare = core.compile_model(preparation, "CPU")
    return LoadedModel(engine, contract, input_size, policy, endpoint.name, info.labels, info.iou_threshold, plate)


def served_policy(asked: ResizePolicy | None, info: ModelInfo, label: str) -> ResizePolicy:
    """The resize a served model with its own pre-processing does: --resize_type cannot change it."""
    if info.policy is None:
        raise DemoError(f"{label}: the served model prepares frames itself but does not say how it resizes "
                        f"them (rt_info {SECTION} resize_type)")
    if asked is not None and asked != info.policy:
        raise UsageError(f"{label}: the served model resizes with {info.policy.value} in its graph; "
                         f"--resize_type {asked.value} cannot change that")
    return info.policy
