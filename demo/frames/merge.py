"""Several sources merged into one stream of frames, fairly, each frame tagged with its source.

Each source is read by a thread of its own into a short queue of its own: a file's queue blocks its
reader when full (nothing is dropped), a live source's keeps only the newest frame. The merger takes
the next frame in turn from the sources that have one ready (round-robin), so that a fast file never
crowds out a camera. Whoever consumes the merged frames in order (the pipeline keeps their order)
gets each source's frames in that source's order.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from demo.frames.sources import Frame

FILE_QUEUE = 2  # frames a file's reader decodes ahead of the merger: enough to always have one ready
# Frames the readers of files (of every source that queues all its frames) together decode ahead: sixty
# images of a -i @list were held decoded at once; this bounds them, and leaves a few sources their full queues.
FILES_AHEAD = 8
CLOSE_GRACE_S = 0.5  # for all the readers together to leave their sources


@dataclass(eq=False)
class Feed:
    """One source's frames on their way to the merger; ``newest_only`` for a live source that drops."""

    name: str
    frames: Iterable[Frame]
    newest_only: bool = False
    ready: deque[Frame] = field(default_factory=deque)
    taken: int = 0  # frames queued, less those a newer one replaced: the number of the next
    ended: bool = False
    error: BaseException | None = None


class SourceMerger:
    """The frames of several sources, one at a time in turn among those with a frame ready, each tagged
    with its source's name and numbered within it.

    ``on_end(feed)`` is called once for each source as it ends (``feed.error`` None) or fails; the
    others go on, and the merger ends when every source has.
    """

    def __init__(self, feeds: Sequence[Feed], on_end: Callable[[Feed], None] | None = None,
                 live: bool = False) -> None:
        self.feeds = list(feeds)
        self.live = live  # read by the pipeline's caller: take a frame only when a request is free
        self._on_end = on_end
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._turn = 0
        self._files_ahead = 0  # files' frames being decoded or queued
        self._readers: list[threading.Thread] = []

    def __iter__(self) -> Iterator[Frame]:
        self._readers = [threading.Thread(target=self._read, args=(feed,), name=f"read {feed.name}", daemon=True)
                         for feed in self.feeds]
        for reader in self._readers:
            reader.start()
        while (frame := self._next()) is not None:
            yield frame

    def close(self) -> None:
        """Stop every reader, and give each a moment to finish the read it is in, so that its source can be
        closed after: a file's read returns within a frame's decoding. A live source's reader waits on
        the live reader, which closing the source wakes."""
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        deadline = time.monotonic() + CLOSE_GRACE_S
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))

    def _next(self) -> Frame | None:
        with self._ready:
            while True:
                for step in range(len(self.feeds)):
                    feed = self.feeds[(self._turn + step) % len(self.feeds)]
                    if feed.ready:
                        self._turn = (self._turn + step + 1) % len(self.feeds)
                        frame = feed.ready.popleft()
                        self._files_ahead -= not feed.newest_only
                        self._ready.notify_all()  # a file's reader may wait for room
                        return frame
                if all(feed.ended for feed in self.feeds) or self._stop.is_set():
                    return None
                self._ready.wait()

    def _read(self, feed: Feed) -> None:
        frames = iter(feed.frames)
        try:
            while self._may_read(feed):
                frame = next(frames, None)
                if frame is None:
                    break
                if not self._hand_on(feed, frame):
                    return
        except BaseException as error:  # noqa: BLE001 - this source fails alone; the others go on
            feed.error = error
        with self._ready:
            self._files_ahead -= not feed.newest_only  # the frame that was not there
            feed.ended = True
            self._ready.notify_all()
        if self._on_end and not self._stop.is_set():
            self._on_end(feed)

    def _may_read(self, feed: Feed) -> bool:
        """Wait until a reader that queues every frame may take one more within the files' budget (one that keeps
        only its newest never waits: it must keep up with its camera); False once stopped."""
        if feed.newest_only:
            return not self._stop.is_set()
        with self._ready:
            self._ready.wait_for(lambda: self._files_ahead < FILES_AHEAD or self._stop.is_set())
            self._files_ahead += 1
            return not self._stop.is_set()

    def _hand_on(self, feed: Feed, frame: Frame) -> bool:
        """Queue the frame (numbered on within its source); False once the merger has stopped."""
        with self._ready:
            dropped = frame.dropped_before
            if feed.newest_only and feed.ready:
                # The one waiting is older: it is dropped and counted, as the live reader does.
                dropped += feed.ready.popleft().dropped_before + 1
                feed.taken -= 1
            else:
                self._ready.wait_for(lambda: len(feed.ready) < FILE_QUEUE or self._stop.is_set())
            if self._stop.is_set():
                return False
            feed.ready.append(replace(frame, index=feed.taken, source=feed.name, dropped_before=dropped))
            feed.taken += 1
            self._ready.notify_all()
            return True


def merged(sources: Mapping[str, Iterable[Frame]], newest_only: Mapping[str, bool],
           on_end: Callable[[Feed], None] | None = None) -> SourceMerger:
    """A merger of ``sources`` by name, those ``newest_only`` names keeping only their newest frame; it is
    ``live`` (the pipeline takes a frame only when a request is free) when any of them is."""
    feeds = [Feed(name, frames, newest_only.get(name, False)) for name, frames in sources.items()]
    return SourceMerger(feeds, on_end, live=any(feed.newest_only for feed in feeds))
