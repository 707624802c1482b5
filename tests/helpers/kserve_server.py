"""A real KServe v2 server for the tests: KServe's own ModelServer (REST and gRPC) serving OpenVINO IRs.

    python tests/kserve_server.py --http_port P --grpc_port G NAME=model.xml [NAME=model.xml ...]

KServe's own flags work too (--ssl_certfile, --ssl_keyfile: REST over TLS). With TEST_SERVER_TOKEN
set, REST requests without that bearer token are refused (401).

Run in a process of its own: importing kserve and tritonclient.grpc in one interpreter fails
(their generated protobuf modules register the same symbols). Each model is compiled for CPU with
the throughput hint; requests run on a thread pool, one infer request per thread, so that several
requests in flight keep several streams busy, as OpenVINO Model Server does. Like OVMS, the REST
model metadata carries the model's rt_info (KServe's own response has no such field: added here), and
binary REST inputs stay binary (see keep_binary_inputs_binary). Each request's inputs are logged, one line
each (``NAME received INPUT DATATYPE [shape]``), so that a test sees what a client sent.
"""
from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc.aio._server
import numpy as np
import openvino as ov
import uvicorn
from kserve import Model, ModelServer
from kserve.protocol import dataplane
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse
from kserve.protocol.rest import server as rest_server
from kserve.protocol.rest import v2_datamodels

HOST = "127.0.0.1"

DATATYPES = {ov.Type.u8: "UINT8", ov.Type.i32: "INT32", ov.Type.i64: "INT64", ov.Type.f16: "FP16",
             ov.Type.f32: "FP32", ov.Type.boolean: "BOOL"}


def _rt_info(node: ov.OVAny | object) -> object:
    """The rt_info tree as nested dicts of strings, as OVMS puts it in the metadata."""
    try:
        return {key: _rt_info(node[key]) for key in node}
    except TypeError:
        return str(node.astype(str)) if hasattr(node, "astype") else str(node)


def tensor_name(port: ov.Output, index: int) -> str:
    """A port's tensor name; an unnamed one (YOLO's first output) is served by its index, as OVMS
    falls back to a name of its own."""
    return port.get_any_name() if port.get_names() else f"output_{index}"


class OpenVINOModel(Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        core = ov.Core()
        self.model = core.read_model(path)
        self.compiled = core.compile_model(self.model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
        requests = self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        self.pool = ThreadPoolExecutor(requests)
        self.local = threading.local()
        self.rt_info = {"model_info": _rt_info(self.model.get_rt_info()["model_info"])} \
            if self.model.has_rt_info(["model_info"]) else {}
        self.ready = True

    @staticmethod
    def _ports(ports: list) -> list[dict]:
        return [{"name": tensor_name(port, index), "datatype": DATATYPES[port.get_element_type()],
                 "shape": [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]}
                for index, port in enumerate(ports)]

    def get_input_types(self) -> list[dict]:
        return self._ports(self.model.inputs)

    def get_output_types(self) -> list[dict]:
        return self._ports(self.model.outputs)

    def _infer(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        if not hasattr(self.local, "request"):
            self.local.request = self.compiled.create_infer_request()
        self.local.request.infer(inputs)
        return [tensor.data.copy() for tensor in self.local.request.output_tensors]

    async def predict(self, payload: InferRequest, headers: dict | None = None,
                      response_headers: dict | None = None) -> InferResponse:
        inputs = {tensor.name: tensor.as_numpy() for tensor in payload.inputs}
        for tensor in payload.inputs:
            print(f"{self.name} received {tensor.name} {tensor.datatype} {list(tensor.shape)}", flush=True)
        outputs = await asyncio.get_running_loop().run_in_executor(self.pool, self._infer, inputs)
        answers = []
        for index, (port, array) in enumerate(zip(self.compiled.outputs, outputs)):
            answer = InferOutput(tensor_name(port, index), list(array.shape), DATATYPES[port.get_element_type()])
            answer.set_data_from_numpy(array, binary_data=True)
            answers.append(answer)
        return InferResponse(payload.id, self.name, answers, use_binary_outputs=True)


def serve_rt_info() -> None:
    """Put each model's rt_info into the REST model metadata, as OVMS does."""
    v2_datamodels.ModelMetadataResponse.model_config["extra"] = "allow"
    v2_datamodels.ModelMetadataResponse.model_rebuild(force=True)
    plain = dataplane.DataPlane.model_metadata

    async def with_rt_info(self: dataplane.DataPlane, model_name: str) -> dict:
        metadata = await plain(self, model_name)
        rt_info = getattr(self.get_model_from_registry(model_name), "rt_info", None)
        return {**metadata, "rt_info": rt_info} if rt_info else metadata

    dataplane.DataPlane.model_metadata = with_rt_info


def require_token(app: object, token: str | None) -> object:
    """The REST app, answering 401 to a request without ``Authorization: Bearer token`` if a token is set."""
    if not token:
        return app
    expected = f"Bearer {token}".encode()

    async def checked(scope: dict, receive: object, send: object) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"error": "a valid bearer token is required"}'})
            return
        await app(scope, receive, send)  # type: ignore[operator]
    return checked


def keep_binary_inputs_binary() -> None:
    """KServe 0.21's REST path turns each binary input into a Python list, element by element, and
    back (InferRequest.from_bytes calls set_data_from_numpy(binary_data=False)): 9 s for one 1080p
    frame. Kept as the bytes that came, a REST request costs what the protocol does, as in OVMS."""
    plain = InferInput.set_data_from_numpy

    def binary_stays(self: InferInput, array: np.ndarray, binary_data: bool = True) -> None:
        if binary_data or self._raw_data is None:
            plain(self, array, binary_data)

    InferInput.set_data_from_numpy = binary_stays


def listen_on_loopback_only() -> None:
    """KServe listens on every interface (0.0.0.0 and [::], fixed in its code); a test server must not.
    Its REST app is also where a required token is checked (TEST_SERVER_TOKEN)."""
    class LoopbackConfig(uvicorn.Config):
        def __init__(self, *args: object, **kwargs: object):
            super().__init__(*args, **{**kwargs, "host": HOST})

        def load(self) -> None:
            super().load()
            self.loaded_app = require_token(self.loaded_app, os.environ.get("TEST_SERVER_TOKEN"))

    rest_server.uvicorn.Config = LoopbackConfig
    plain = grpc.aio._server.Server.add_insecure_port
    grpc.aio._server.Server.add_insecure_port = lambda self, address: plain(self, address.replace("[::]", HOST))


def main(argv: list[str]) -> None:
    served = [arg.split("=", 1) for arg in argv if "=" in arg and not arg.startswith("-")]
    serve_rt_info()
    keep_binary_inputs_binary()
    listen_on_loopback_only()
    # ModelServer reads --http_port and --grpc_port from sys.argv itself.
    ModelServer(workers=1).start([OpenVINOModel(name, path) for name, path in served])


if __name__ == "__main__":
    main(sys.argv[1:])
