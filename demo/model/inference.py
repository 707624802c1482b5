"""Where a model runs: the one interface the pipeline, the Python API and the benchmark infer through.

An :class:`Engine` is a model ready to infer (compiled on a local device, or served by a KServe v2
server, see :mod:`demo.model.remote`). It answers one request synchronously (:meth:`Engine.infer`) and
makes :class:`RequestQueue` objects: a fixed number of requests in flight, each calling back with
its outputs as OpenVINO's ``AsyncInferQueue`` does. Inputs are keyed by input index, outputs are
listed in the model's output order.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import openvino as ov

Inputs = dict[int, np.ndarray]
# Called on a worker thread with a request's outputs, or with the error that ended the request,
# and the userdata its start_async was given. The outputs are valid only during the call.
Callback = Callable[[list[np.ndarray] | BaseException, object], None]
# What the device reports about the compiled model, as benchmark_app prints it.
COMPILED_PROPERTIES = ("NUM_STREAMS", "INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT",
                       "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "EXECUTION_DEVICES")


class RequestQueue(Protocol):
    def __len__(self) -> int: ...

    def set_callback(self, callback: Callback) -> None: ...

    def start_async(self, inputs: Inputs, userdata: object = None) -> None:
        """Start a request once one is idle (waiting for it); the inputs are not copied."""

    def get_idle_request_id(self) -> int:
        """Wait until a request is idle."""

    def wait_all(self) -> None:
        """Wait until no request is in flight."""

    def reset_state(self) -> None:
        """Start a recurrent model's states again from zeros (its one request must be idle)."""


class Engine(Protocol):
    def requests(self, count: int) -> RequestQueue:
        """A queue of ``count`` requests; 0: as many as the engine finds best."""

    def infer(self, inputs: Inputs) -> list[np.ndarray]:
        """One request, synchronously; the outputs are the caller's until its next call."""

    def config(self) -> dict[str, str]:
        """What the engine says about how it runs the model, for the benchmark's report."""

    def close(self) -> None:
        """Let go of what the engine holds (a compiled model, connections); once closed it is not used again.
        Closing again does nothing."""


class LocalQueue:
    """OpenVINO's AsyncInferQueue over a compiled model."""

    def __init__(self, compiled: ov.CompiledModel, count: int):
        self._queue = ov.AsyncInferQueue(compiled, count)

    def __len__(self) -> int:
        return len(self._queue)

    def set_callback(self, callback: Callback) -> None:
        self._queue.set_callback(
            lambda request, userdata: callback([tensor.data for tensor in request.output_tensors], userdata))

    def start_async(self, inputs: Inputs, userdata: object = None) -> None:
        self._queue.start_async(inputs, userdata, share_inputs=True)

    def get_idle_request_id(self) -> int:
        return self._queue.get_idle_request_id()

    def wait_all(self) -> None:
        self._queue.wait_all()

    def reset_state(self) -> None:
        self._queue[0].reset_state()


class LocalEngine:
    """A model compiled on a device of this machine."""

    def __init__(self, compiled: ov.CompiledModel):
        self.compiled = compiled
        self._request: ov.InferRequest | None = None

    def requests(self, count: int) -> LocalQueue:
        return LocalQueue(self.compiled, count)

    def infer(self, inputs: Inputs) -> list[np.ndarray]:
        if self._request is None:
            self._request = self.compiled.create_infer_request()
        self._request.infer(inputs, share_inputs=True)
        return [tensor.data for tensor in self._request.output_tensors]

    def close(self) -> None:
        # The compiled model's memory, weights file and device threads go with the last reference to it; a queue
        # still running a stream holds one until that stream ends.
        if self.compiled is None:
            return
        # That last reference must not be the Python CompiledModel: its destructor joins OpenVINO's CPU threads with
        # the GIL held, and one that needs the GIL at that moment (to let go of a request's Python objects) waits for
        # it for ever (seen about once in 150 closes). An infer request holds the compiled model too, and its
        # destructor releases the GIL, so the compiled model is let go of through one.
        last = self._request or self.compiled.create_infer_request()
        self.compiled = self._request = None  # type: ignore[assignment]
        del last

    def config(self) -> dict[str, str]:
        """The properties the device reports for the compiled model; those it does not know are left out."""
        config = {}
        for name in COMPILED_PROPERTIES:
            try:
                config[name] = _text(self.compiled.get_property(name))
            except RuntimeError:
                continue
        return config


def _text(value: object) -> str:
    if isinstance(value, ov.Type):
        return value.get_type_name()
    if isinstance(value, (list, tuple)):
        return ",".join(map(_text, value))
    return getattr(value, "name", None) or str(value)
