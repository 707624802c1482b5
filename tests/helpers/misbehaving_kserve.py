"""A KServe v2 server for the tests that answers right until told to misbehave, over REST and gRPC.

It serves one OpenVINO model on 127.0.0.1 (REST: the standard library's HTTP server; gRPC: the
KServe v2 service stubs that tritonclient ships), in threads of the test's own process, and
``fault`` says how each request is answered from now on:

    None              the model's true answer
    "malformed"       200 with a body that is neither JSON nor KServe's binary layout
    "trickle"         the true answer's headers, then its body at 100 bytes a second
    "close"           the answer's headers and half its body, then the connection closed (gRPC: aborted)
    "silent"          nothing, until the server stops
    "huge"            an answer of HUGE_BYTES (REST: declared; "huge_undeclared": streamed without a length)
    "wrong_shape"     the first output's shape with its last dimension one smaller (and the bytes of it)
    "shape_vs_bytes"  the first output's true shape with the bytes of one element fewer
    "wrong_dtype"     the first output sent as FP16 where the metadata says FP32
    "missing_output"  the last output left out
    "metadata_silent", "metadata_trickle", "metadata_types": the same for the model's metadata

Every request's arrival time is kept (``arrivals``), so a test can time a failure from the moment
the server had the request.
"""
from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import openvino as ov

HOST = "127.0.0.1"
HUGE_BYTES = 512 << 20
TRICKLE_BYTES_PER_S = 100
DATATYPES = {ov.Type.u8: "UINT8", ov.Type.i32: "INT32", ov.Type.i64: "INT64", ov.Type.f16: "FP16",
             ov.Type.f32: "FP32"}
NUMPY = {"UINT8": np.uint8, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16, "FP32": np.float32}


class Model:
    """The served model and the answers, true or spoilt by a fault."""

    def __init__(self, name: str, path: Path):
        self.name = name
        core = ov.Core()
        self.model = core.read_model(path)
        self.compiled = core.compile_model(self.model, "CPU")
        self.lock = threading.Lock()
        self.request = self.compiled.create_infer_request()
        self.inputs = self._ports(self.model.inputs)
        self.outputs = self._ports(self.model.outputs)

    @staticmethod
    def _ports(ports: list) -> list[dict]:
        return [{"name": port.get_any_name() if port.get_names() else f"output_{index}",
                 "datatype": DATATYPES[port.get_element_type()],
                 "shape": [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]}
                for index, port in enumerate(ports)]

    def metadata(self, fault: str | None) -> dict:
        if fault == "metadata_types":
            return {"name": self.name, "inputs": [{"name": 7, "datatype": "FP32", "shape": "1x3"}],
                    "outputs": {"name": "boxes"}}
        return {"name": self.name, "versions": ["1"], "platform": "openvino", "inputs": self.inputs,
                "outputs": self.outputs}

    def answer(self, arrays: list[np.ndarray], fault: str | None) -> list[tuple[str, str, list[int], bytes]]:
        """(name, datatype, shape, bytes) per output, as the fault spoils them."""
        with self.lock:
            self.request.infer(arrays)
            results = [tensor.data.copy() for tensor in self.request.output_tensors]
        answers = [(port["name"], port["datatype"], list(array.shape), array) for port, array in
                   zip(self.outputs, results)]
        name, datatype, shape, first = answers[0]
        if fault == "wrong_shape":
            answers[0] = (name, datatype, [*shape[:-1], shape[-1] - 1], first[..., :-1])
        elif fault == "shape_vs_bytes":
            answers[0] = (name, datatype, shape, first.reshape(-1)[:-1])
        elif fault == "wrong_dtype":
            answers[0] = (name, "FP16", shape, first.astype(np.float16))
        elif fault == "missing_output":
            answers.pop()
        return [(name, datatype, shape, np.ascontiguousarray(array).tobytes())
                for name, datatype, shape, array in answers]


class MisbehavingServer:
    """The model served over REST and gRPC; ``start`` and ``stop`` may be called again (a restart)."""

    def __init__(self, name: str, path: Path):
        self.model = Model(name, path)
        self.fault: str | None = None
        self.arrivals: list[float] = []  # time.monotonic() of each request's arrival
        self.stopping = threading.Event()
        self.http_port = self.grpc_port = 0
        self._http: ThreadingHTTPServer | None = None
        self._grpc = None

    def url(self, protocol: str = "http") -> str:
        port = self.grpc_port if protocol == "grpc" else self.http_port
        return f"{protocol}://{HOST}:{port}/v2/models/{self.model.name}"

    def start(self) -> MisbehavingServer:
        self.stopping.clear()
        self._http = _RestServer((HOST, self.http_port), _RestHandler)
        self._http.owner = self
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True).start()
        self._grpc, self.grpc_port = _grpc_server(self, self.grpc_port)
        return self

    def stop(self) -> None:
        self.stopping.set()  # silent and trickling answers end
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            for connection in list(self._http.connections):  # as a server that goes down drops them
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._http = None
        if self._grpc is not None:
            self._grpc.stop(0).wait()
            self._grpc = None

    def arrived(self) -> None:
        self.arrivals.append(time.monotonic())

    def __enter__(self) -> MisbehavingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _RestServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: MisbehavingServer

    def __init__(self, *args: object):
        super().__init__(*args)
        self.connections: set[socket.socket] = set()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that went away mid-answer is what the tests make happen


class _RestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept-alive connections, as KServe servers keep them
    server: _RestServer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        owner = self.server.owner
        owner.arrived()
        fault = owner.fault
        if fault == "metadata_silent":
            owner.stopping.wait()
            return
        body = json.dumps(owner.model.metadata(fault)).encode()
        if fault == "metadata_trickle":
            body += b" " * 100_000
        self._send(200, {"Content-Type": "application/json"}, body, trickle=fault == "metadata_trickle")

    def do_POST(self) -> None:  # noqa: N802
        owner = self.server.owner
        owner.arrived()
        request = self.rfile.read(int(self.headers["Content-Length"]))
        fault = owner.fault
        if fault == "silent":
            owner.stopping.wait()
            self.close_connection = True
            return
        if fault == "malformed":
            self._send(200, {"Inference-Header-Content-Length": "9"}, b"\x80\xff{garbage\x00 not a KServe answer")
            return
        if fault in ("huge", "huge_undeclared"):
            self._send_huge(declared=fault == "huge")
            return
        header_length = int(self.headers.get("Inference-Header-Content-Length") or len(request))
        header = json.loads(request[:header_length])
        arrays, offset = [], header_length
        for given in header["inputs"]:
            size = given["parameters"]["binary_data_size"]
            arrays.append(np.frombuffer(request[offset:offset + size], NUMPY[given["datatype"]])
                          .reshape(given["shape"]))
            offset += size
        outputs = owner.model.answer(arrays, fault)
        answer_header = json.dumps({"model_name": owner.model.name, "outputs": [
            {"name": name, "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": len(data)}}
            for name, datatype, shape, data in outputs]}).encode()
        body = answer_header + b"".join(data for *_, data in outputs)
        headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(answer_header))}
        if fault == "close":
            self._send(200, headers, body, cut_at=len(body) // 2)
        else:
            self._send(200, headers, body, trickle=fault == "trickle")

    def _send(self, status: int, headers: dict[str, str], body: bytes, trickle: bool = False,
              cut_at: int | None = None) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            if cut_at is not None:
                self.wfile.write(body[:cut_at])
                self.wfile.flush()
                self.close_connection = True
            elif trickle:
                self._trickle(body)
            else:
                self.wfile.write(body)
        except OSError:  # the client went away: what the test wants to see it do
            self.close_connection = True

    def _trickle(self, body: bytes) -> None:
        piece = TRICKLE_BYTES_PER_S // 10
        owner = self.server.owner
        for start in range(0, len(body), piece):
            if owner.stopping.wait(0.1):
                break
            self.wfile.write(body[start:start + piece])
            self.wfile.flush()
        self.close_connection = True

    def _send_huge(self, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Inference-Header-Content-Length", "2")
        if declared:
            self.send_header("Content-Length", str(HUGE_BYTES))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        zeros = bytes(1 << 20)
        self.close_connection = True
        try:
            for _ in range(HUGE_BYTES // len(zeros)):
                if self.server.owner.stopping.is_set():
                    break
                self.wfile.write(zeros)
        except OSError:
            pass


def _grpc_server(owner: MisbehavingServer, port: int) -> tuple[object, int]:
    """The KServe v2 gRPC service on tritonclient's stubs."""
    import grpc
    from tritonclient.grpc import service_pb2 as messages
    from tritonclient.grpc import service_pb2_grpc as service

    def silent(context: grpc.ServicerContext) -> None:
        """No answer while the client waits for one; the thread is the pool's again once it has gone."""
        while context.is_active() and not owner.stopping.wait(0.1):
            pass
        context.abort(grpc.StatusCode.UNAVAILABLE, "stopping")

    class Servicer(service.GRPCInferenceServiceServicer):
        def ModelMetadata(self, request: object, context: grpc.ServicerContext) -> object:  # noqa: N802
            owner.arrived()
            if owner.fault == "metadata_silent":
                silent(context)
            found = owner.model.metadata(None)
            tensors = lambda entries: [messages.ModelMetadataResponse.TensorMetadata(**e) for e in entries]  # noqa: E731
            return messages.ModelMetadataResponse(name=found["name"], versions=found["versions"],
                                                  platform=found["platform"], inputs=tensors(found["inputs"]),
                                                  outputs=tensors(found["outputs"]))

        def ModelInfer(self, request: object, context: grpc.ServicerContext) -> object:  # noqa: N802
            owner.arrived()
            fault = owner.fault
            if fault == "silent":
                silent(context)
            if fault == "close":
                context.abort(grpc.StatusCode.UNAVAILABLE, "the connection was lost")
            arrays = [np.frombuffer(raw, NUMPY[given.datatype]).reshape(list(given.shape))
                      for given, raw in zip(request.inputs, request.raw_input_contents)]
            outputs = owner.model.answer(arrays, fault)
            if fault in ("huge", "huge_undeclared"):
                outputs = [(outputs[0][0], "UINT8", [HUGE_GRPC_BYTES], bytes(HUGE_GRPC_BYTES))]
            return messages.ModelInferResponse(
                model_name=owner.model.name,
                outputs=[messages.ModelInferResponse.InferOutputTensor(name=name, datatype=datatype, shape=shape)
                         for name, datatype, shape, _ in outputs],
                raw_output_contents=[data for *_, data in outputs])

    options = [("grpc.max_receive_message_length", 1 << 30), ("grpc.max_send_message_length", 1 << 30),
               ("grpc.so_reuseport", 0)]
    server = grpc.server(futures.ThreadPoolExecutor(8), options=options)
    service.add_GRPCInferenceServiceServicer_to_server(Servicer(), server)
    bound = server.add_insecure_port(f"{HOST}:{port}")
    server.start()
    return server, bound


# gRPC's answer is built whole in this process: larger than any ceiling the test models give, small
# enough for a shared test machine.
HUGE_GRPC_BYTES = 64 << 20
