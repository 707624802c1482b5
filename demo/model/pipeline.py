"""The asynchronous inference pipeline: frames in, detections out, in frame order.

A producer thread decodes frames, fits them to the network where the host does that (see
:func:`demo.model.loading.fits_on_host`), and submits them to the model's request queue (an
``AsyncInferQueue`` locally, see :mod:`demo.model.inference`); the
requests' callbacks decode each result (copying only the rows above the threshold)
and hand it to the consumer, which reorders them. Decoding, inference and whatever the
consumer does with a result (paste, draw, write) overlap.
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from demo.core.metrics import StageClock
from demo.frames.sources import Frame
from demo.model.contracts import Contract, DecodeLimits, Detections
from demo.model.inference import Inputs
from demo.model.loading import LoadedModel

_END = object()
# How long a stopping consumer waits for the producer: it normally finishes within a frame's
# decoding, but may be waiting on a live source that has stalled. Then it is left to end by
# itself; it submits nothing once stopped.
PRODUCER_GRACE_S = 0.5
# While no result comes (a stalled stream), the consumer is called back this often, so that a
# window stays responsive and a key can still stop the run.
IDLE_S = 0.1


@dataclass
class InferredFrame:
    frame: Frame
    detections: Detections
    timings_ms: dict[str, float] = field(default_factory=dict)  # wall time per stage
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU time per host stage


@dataclass(frozen=True)
class _Run:
    """What one call of :meth:`AsyncPipeline.run` asked for, and where its results go."""

    limits: DecodeLimits
    live: bool
    results: queue.SimpleQueue


@dataclass
class _Submitted:
    sequence: int
    frame: Frame
    submitted: float
    timings_ms: dict[str, float]
    cpu_ms: dict[str, float]
    run: _Run  # the run that submitted it
    inputs: Inputs  # held until the result comes: the request reads them where they are, not copied


class AsyncPipeline:
    """Frames in, detections out, in frame order.

    For a ``live`` source a frame is taken only once a request is free to infer it, and
    fewer results wait for the consumer, so that each frame taken is as new as it can be.
    """

    def __init__(self, model: LoadedModel, nireq: int = 0):
        self.model = model
        # A recurrent model's states live in its request: one request, so that each frame follows the last.
        self.requests = model.engine.requests(1 if model.recurrent else nireq)
        self._chain_size: tuple[int, ...] | None = None  # the frame size the recurrent states were made on
        # Not a method of this pipeline: OpenVINO's queue would hold it, a cycle that Python's garbage collector
        # cannot see into, and the compiled model, its requests and their threads would outlive every owner.
        self.requests.set_callback(partial(_decoded, model.contract))

    @property
    def nireq(self) -> int:
        return len(self.requests)

    def capacity(self, live: bool) -> int:
        """Frames decoded but not yet consumed: enough to keep every request busy while the consumer
        works, few enough that a slow consumer cannot pile up memory (or, for a live source, age)."""
        return self.nireq + 1 if live else 2 * self.nireq + 2

    def run(self, frames: Iterable[Frame], limits: DecodeLimits, live: bool = False,
            idle: Callable[[], bool] | None = None) -> Iterator[InferredFrame]:
        """Yield every frame's result in order; closing the iterator stops the producer cleanly.

        ``idle`` is called while no result has come for a moment; when it returns True the run ends.
        """
        results: queue.SimpleQueue = queue.SimpleQueue()  # (sequence, InferredFrame), an error, or _END
        slots = threading.Semaphore(self.capacity(live))
        stop = threading.Event()
        submitting = threading.Lock()  # held from the last check of ``stop`` to the submission
        run = _Run(limits, live, results)
        producer = threading.Thread(target=self._produce, args=(iter(frames), slots, stop, submitting, run),
                                    name="decode-submit", daemon=True)
        producer.start()
        waiting: dict[int, InferredFrame] = {}
        next_sequence = 0
        try:
            while (item := self._next_result(results, idle)) is not _END:
                if isinstance(item, BaseException):
                    raise item
                sequence, result = item
                waiting[sequence] = result
                while next_sequence in waiting:
                    yield waiting.pop(next_sequence)
                    next_sequence += 1
                    slots.release()
        finally:
            with submitting:
                stop.set()
            slots.release()  # wake a producer that waits for a slot, so it sees the stop
            producer.join(PRODUCER_GRACE_S)
            self.requests.wait_all()

    @staticmethod
    def _next_result(results: queue.SimpleQueue, idle: Callable[[], bool] | None) -> object:
        while True:
            try:
                return results.get(timeout=IDLE_S)
            except queue.Empty:
                if idle and idle():
                    return _END

    def _produce(self, frames: Iterator[Frame], slots: threading.Semaphore, stop: threading.Event,
                 submitting: threading.Lock, run: _Run) -> None:
        try:
            for sequence in itertools.count():
                slots.acquire()
                if run.live:
                    self.requests.get_idle_request_id()  # then take the newest frame, not one that waited
                timings: dict[str, float] = {}
                cpu: dict[str, float] = {}
                clock = StageClock(timings, cpu)
                frame = None if stop.is_set() else next(frames, None)
                if frame is None:
                    break
                clock.lap("decode")
                inputs = self.model.inputs(frame.image)
                clock.lap("preprocess")
                self.requests.get_idle_request_id()  # wait here, so inference time excludes the wait
                with submitting:
                    if stop.is_set():
                        break
                    self._restart_chain_at_cut(frame)
                    # Shared, not copied: nothing writes to a frame, or to its fitted copy, before its result
                    # comes back, and the job holds both until then.
                    self.requests.start_async(inputs, _Submitted(sequence, frame, time.perf_counter(), timings, cpu,
                                                                 run, inputs))
            self.requests.wait_all()
            run.results.put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer thread to raise
            run.results.put(error)

    def _restart_chain_at_cut(self, frame: Frame) -> None:
        """A recurrent model's states start again from zeros where the frame does not follow the one before."""
        if self.model.recurrent and (frame.cut or frame.image.shape != self._chain_size):
            self.requests.reset_state()  # idle: the producer waited for it
        self._chain_size = frame.image.shape


def _decoded(contract: Contract, outputs: list[np.ndarray] | BaseException, job: _Submitted) -> None:
    """A request's callback: its outputs decoded and handed to the run that submitted it."""
    try:
        if isinstance(outputs, BaseException):  # the request failed: a server error or a lost connection
            raise outputs
        clock = StageClock(job.timings_ms, job.cpu_ms)
        job.timings_ms["inference"] = 1000 * (clock.started - job.submitted)
        detections = contract.decode(outputs, job.run.limits)
        clock.lap("postprocess")  # the outputs' decoding is post-processing on the host, as the paste after it
        job.run.results.put((job.sequence, InferredFrame(job.frame, detections, job.timings_ms, job.cpu_ms)))
    except BaseException as error:  # noqa: BLE001 - an exception must not die in the engine's thread
        job.run.results.put(error)
