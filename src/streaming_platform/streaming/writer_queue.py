"""Hand-off to a writer thread that takes everything waiting as one group.

The app chains two: Spark's batch loop → render (apply to the state, render documents) → write
(Elasticsearch, then the saved state). Spark calls ``foreachBatch`` for batch N, the batch is
parsed in the executors and put here; Spark commits N and goes on reading N+1 while the writer
takes **every batch waiting**: a customer touched by three waiting batches is written once, not
three times. When the writer keeps up, each group is one batch (lowest latency); when it falls
behind, groups grow and the Elasticsearch writes per event shrink (highest throughput). At most
``max_waiting`` items wait: beyond that ``put`` blocks, so Spark cannot run away from the writer.

The first error of the writer is kept and raised by the next ``put`` or ``drain``: no later batch
is written after a failed one (the app stops; the restart reads the unwritten batches again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WriterQueue(Generic[T]):
    def __init__(
        self, write_group: Callable[[list[T]], None], max_waiting: int = 4, max_group: int = 8
    ) -> None:
        if max_waiting < 1 or max_group < 1:
            raise ValueError("max_waiting and max_group must be at least 1")
        self._write_group = write_group
        self._max_waiting, self._max_group = max_waiting, max_group
        self._waiting: list[T] = []
        self._busy = False
        self._closed = False
        self._error: BaseException | None = None
        self._idle_since = time.monotonic()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        """Queue a batch; blocks while ``max_waiting`` batches wait; raises the writer's error."""
        with self._cond:
            self._cond.wait_for(lambda: self._error is not None or len(self._waiting) < self._max_waiting)
            self._raise_error()
            if self._closed:
                raise RuntimeError("the writer queue is closed")
            self._waiting.append(item)
            self._cond.notify_all()

    def drain(self) -> None:
        """Wait until everything queued is written; raises the writer's error."""
        with self._cond:
            self._cond.wait_for(lambda: self._error is not None or not (self._waiting or self._busy))
            self._raise_error()

    def idle_for(self) -> float:
        """Seconds since the writer last had something to do (0 while it has)."""
        with self._cond:
            return 0.0 if self._waiting or self._busy else time.monotonic() - self._idle_since

    def close(self) -> None:
        """Stop the thread once the queue is empty (or the writer failed)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"writing an earlier batch failed: {self._error}") from self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._closed)
                if not self._waiting:  # closed and empty
                    return
                group, self._waiting = self._waiting[: self._max_group], self._waiting[self._max_group :]
                self._busy = True
                self._cond.notify_all()  # room for put()
            try:
                self._write_group(group)
            except BaseException as exc:  # noqa: BLE001 - kept and raised in the Spark thread
                with self._cond:
                    self._error, self._busy, self._waiting = exc, False, []
                    self._cond.notify_all()
                return
            with self._cond:
                self._busy = False
                self._idle_since = time.monotonic()
                self._cond.notify_all()
