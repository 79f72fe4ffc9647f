"""The hand-off between Spark's batch loop and the writer thread (streaming/writer_queue.py)."""

from __future__ import annotations

import threading
import time

import pytest

from streaming_platform.streaming.writer_queue import WriterQueue


def test_batches_are_written_in_order_and_grouped_while_the_writer_is_busy() -> None:
    groups: list[list[int]] = []
    gate = threading.Event()

    def write(group: list[int]) -> None:
        gate.wait(5)
        groups.append(group)

    q: WriterQueue[int] = WriterQueue(write, max_waiting=10, max_group=3)
    for i in range(7):
        q.put(i)
    gate.set()
    q.drain()
    q.close()
    assert [i for g in groups for i in g] == list(range(7))
    assert max(len(g) for g in groups) == 3 and len(groups) < 7


def test_put_blocks_while_max_waiting_batches_wait() -> None:
    gate = threading.Event()
    q: WriterQueue[int] = WriterQueue(lambda _g: gate.wait(5), max_waiting=2, max_group=1)
    q.put(0)  # taken by the writer, which blocks
    time.sleep(0.1)
    q.put(1)
    q.put(2)
    blocked = threading.Thread(target=q.put, args=(3,))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()
    gate.set()
    blocked.join(5)
    assert not blocked.is_alive()
    q.drain()
    q.close()


def test_a_failed_write_is_raised_and_nothing_after_it_is_written() -> None:
    written: list[int] = []

    def write(group: list[int]) -> None:
        if 1 in group:
            raise OSError("elasticsearch went away")
        written.extend(group)

    q: WriterQueue[int] = WriterQueue(write, max_waiting=10, max_group=1)
    q.put(0)
    q.drain()
    q.put(1)
    with pytest.raises(RuntimeError, match="elasticsearch went away"):
        q.drain()
    with pytest.raises(RuntimeError, match="earlier batch failed"):
        q.put(2)
    q.close()
    assert written == [0]
