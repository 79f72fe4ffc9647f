"""Writes of the streaming app: Elasticsearch bulk (whole documents by id) and the dead-letter topic.

Every write is idempotent — a document id is a function of what it describes (customer id,
window × category, topic/partition/offset, batch id) and the body is the whole document — so a
micro-batch re-run after a crash rewrites the same documents.

An outage does not stop the stream: transient failures (connection errors, 429 / 502 / 503 /
504, per-item 429) are retried with capped exponential backoff for up to ``outage_s``
(``spark.outage.timeout``) while the batch waits, so Spark takes no new data meanwhile; the
wait is visible (:func:`outages`). Only an outage longer than that raises :class:`WriteError`
(one line), which fails the micro-batch: Spark does not commit it and the restarted app re-runs
it. A document Elasticsearch refuses for good (mapping, size, immense term) never stops the
stream: it is quarantined with reason ``rejected_by_elasticsearch:<type>`` and the rest of its
bulk goes on.
"""

from __future__ import annotations

import base64
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

from streaming_platform.config import es_hosts
from streaming_platform.progress import say

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
MAX_RAW_CHARS = 65_536  # quarantined payloads beyond this are truncated (the source offset is kept)
MAX_KEY_CHARS = 1_024  # a Kafka key is kept up to this (a keyword; a dead letter stays bounded)
MAX_BACKOFF_S = 30.0  # the longest pause between two tries during an outage
REJECTED = "rejected_by_elasticsearch"
T = TypeVar("T")


class WriteError(RuntimeError):
    """A write could not be completed (an outage outlasted ``outage_s``): the micro-batch must fail."""


@dataclass(frozen=True)
class SinkConfig:
    """What the executors need to write (plain values: pickled into every task)."""

    es_url: str
    es_username: str
    es_password: str
    bootstrap_servers: str
    quarantine_index: str
    deadletter_topic: str
    bulk_docs: int = 5_000
    bulk_threads: int = 2
    bulk_bytes: int = 8 << 20  # well under Elasticsearch's 100 MB http.max_content_length
    outage_s: float = 600.0
    backoff_s: float = 0.2

    def es(self) -> Elasticsearch:
        auth = (self.es_username, self.es_password) if self.es_username else None
        # es.url may name several nodes: the client sends each request to one that is up.
        return Elasticsearch(es_hosts(self.es_url), basic_auth=auth, request_timeout=60, max_retries=0)


# ---------------------------------------------------------------------------- outages

_OUTAGES: dict[str, tuple[float, int, str]] = {}  # dependency → (since, retries, last failure)
_OUTAGES_LOCK = threading.Lock()


def outages() -> dict[str, tuple[float, int, str]]:
    """The dependencies this process is waiting for now: name → (since, retries, last failure)."""
    with _OUTAGES_LOCK:
        return dict(_OUTAGES)


def note_reachable(name: str, reachable: bool, failure: str = "not reachable") -> None:
    """A probe's finding (the driver probes what its executors may be waiting for elsewhere)."""
    with _OUTAGES_LOCK:
        if reachable:
            _OUTAGES.pop(name, None)
        else:
            since, retries, _ = _OUTAGES.get(name, (time.time(), 0, ""))
            _OUTAGES[name] = (since, retries + 1, failure)


def describe_outage(name: str, since: float, retries: int) -> str:
    return f"waiting for {name} since {time.strftime('%H:%M:%S', time.localtime(since))}, {retries} retries"


class Retrier:
    """Capped exponential backoff while a dependency fails, for up to ``limit_s`` in all.

    Every waiting writer of a process shares one outage record per dependency (the app reports
    it); it ends with the first success.
    """

    def __init__(self, name: str, limit_s: float, backoff_s: float) -> None:
        self.name, self.limit_s, self.backoff_s = name, limit_s, backoff_s
        self.start = time.time()
        self.tries = 0

    def wait(self, failure: str) -> None:
        """Pause before the next try; raise :class:`WriteError` once the outage is too long."""
        self.tries += 1
        now = time.time()
        with _OUTAGES_LOCK:
            since, retries, _ = _OUTAGES.get(self.name, (self.start, 0, ""))
            _OUTAGES[self.name] = (since, retries + 1, failure)
        if now - since >= self.limit_s:
            raise WriteError(
                f"{self.name} unavailable for {now - since:.0f} s (limit {self.limit_s:.0f} s, "
                f"{retries + 1} retries): {failure}"
            )
        if self.tries == 1 or self.tries % 10 == 0:
            say(f"  {describe_outage(self.name, since, retries + 1)} ({failure})")
        time.sleep(min(self.backoff_s * 2 ** min(self.tries - 1, 16), MAX_BACKOFF_S))

    def done(self) -> None:
        if self.tries:
            with _OUTAGES_LOCK:
                gone = _OUTAGES.pop(self.name, None)
            if gone is not None:
                say(f"  {self.name} answers again after {time.time() - gone[0]:.0f} s ({gone[1]} retries)")


def retrying(cfg: SinkConfig, call: Callable[[], T]) -> T:
    """``call()`` (an Elasticsearch request), an outage waited out like a bulk write's."""
    retrier = Retrier("Elasticsearch", cfg.outage_s, cfg.backoff_s)
    while True:
        try:
            result = call()
        except (EsConnectionError, EsConnectionTimeout) as exc:
            failure = f"connection error ({type(exc).__name__})"
        except ApiError as exc:
            if exc.meta.status not in RETRYABLE_STATUS:
                raise
            failure = f"HTTP {exc.meta.status}"
        else:
            retrier.done()
            return result
        retrier.wait(failure)


# ---------------------------------------------------------------------------- bulk writes


def ndjson(index: str, docs: Iterable[tuple[str, dict[str, Any] | bytes]]) -> list[bytes]:
    """Bulk ``index`` operations (action line + source line) for (id, doc) pairs; a doc given as
    bytes is its JSON already."""
    out = []
    for doc_id, doc in docs:
        source = doc if isinstance(doc, bytes) else orjson.dumps(doc)
        out.append(orjson.dumps({"index": {"_index": index, "_id": doc_id}}) + b"\n" + source)
    return out


Rejected = tuple[bytes, dict[str, Any]]  # (operation, Elasticsearch's error)


def _send(es: Elasticsearch, ops: list[bytes], cfg: SinkConfig) -> list[Rejected]:
    """Send one bulk request, retrying what failed transiently; return what was refused for good."""
    pending, rejected = ops, []
    retrier = Retrier("Elasticsearch", cfg.outage_s, cfg.backoff_s)
    while True:
        try:
            resp = es.bulk(operations=pending, filter_path="errors,items.*.status,items.*.error")
        except (EsConnectionError, EsConnectionTimeout) as exc:
            failure = f"connection error ({type(exc).__name__})"
        except ApiError as exc:
            status = exc.meta.status
            if status == 413:  # too large as a whole: halve it; one document alone is refused
                retrier.done()
                if len(pending) == 1:
                    return [*rejected, (pending[0], {"type": "request_too_large"})]
                mid = len(pending) // 2
                return rejected + _send(es, pending[:mid], cfg) + _send(es, pending[mid:], cfg)
            if status not in RETRYABLE_STATUS:  # the request is wrong (auth, URL): no retry helps
                raise WriteError(f"Elasticsearch refused a bulk: HTTP {status} {exc.message}") from exc
            failure = f"HTTP {status}"
        else:
            retry = []
            for op, item in zip(pending, resp.get("items", []), strict=False) if resp.get("errors") else ():
                result = next(iter(item.values()))
                status = result.get("status", 200)
                if status in RETRYABLE_STATUS:
                    retry.append(op)
                elif status >= 300:
                    rejected.append((op, result.get("error") or {"type": f"http_{status}"}))
            if not retry:
                retrier.done()
                return rejected
            pending, failure = retry, f"{len(retry)} documents HTTP 429/5xx"
        retrier.wait(failure)


def chunks(ops: Sequence[bytes], max_docs: int, max_bytes: int) -> Iterator[list[bytes]]:
    """Consecutive runs of ``ops`` of at most ``max_docs`` operations and ``max_bytes`` bytes
    (an operation larger than ``max_bytes`` goes alone)."""
    run: list[bytes] = []
    size = 0
    for op in ops:
        if run and (len(run) >= max_docs or size + len(op) > max_bytes):
            yield run
            run, size = [], 0
        run.append(op)
        size += len(op) + 1
    if run:
        yield run


def bulk_write(es: Elasticsearch, ops: Sequence[bytes], cfg: SinkConfig) -> int:
    """Write ``ops`` in chunks (count and bytes bounded), ``cfg.bulk_threads`` requests in flight.

    Documents Elasticsearch refuses are quarantined (:func:`rejection_doc`); returns how many.
    """
    parts = list(chunks(ops, cfg.bulk_docs, cfg.bulk_bytes))
    if len(parts) <= 1 or cfg.bulk_threads <= 1:
        rejected = [r for part in parts for r in _send(es, part, cfg)]
    else:
        with ThreadPoolExecutor(cfg.bulk_threads) as pool:
            futures = [pool.submit(_send, es, part, cfg) for part in parts]
            rejected = [r for f in futures for r in f.result()]  # re-raises the first WriteError
    if rejected:
        _quarantine_rejected(es, rejected, cfg)
    return len(rejected)


def _quarantine_rejected(es: Elasticsearch, rejected: list[Rejected], cfg: SinkConfig) -> None:
    docs = [rejection_doc(op, error, cfg.quarantine_index) for op, error in rejected]
    first = rejected[0][1]
    say(
        f"  {len(docs)} document(s) refused by Elasticsearch, quarantined "
        f"(first: {first.get('type')}: {str(first.get('reason', ''))[:200]})"
    )
    again = _send(es, ndjson(cfg.quarantine_index, docs), cfg)
    if again:  # only a broken quarantine mapping refuses these: say so, loudly
        raise WriteError(f"the quarantine index refused {len(again)} rejection record(s): {again[0][1]}")


def rejection_doc(op: bytes, error: dict[str, Any], quarantine_index: str) -> tuple[str, dict[str, Any]]:
    """The quarantine record of a document Elasticsearch refused, as (id, doc).

    A refused quarantine record keeps its id and source position but drops the fields that can be
    refused (key, event id; the raw payload sits in a field that is not indexed). Any other
    document is kept whole as text under ``rejected-<index>-<id>``, its key ``<index>/<id>``.
    """
    action, _, source = op.partition(b"\n")
    meta = orjson.loads(action)["index"]
    index, doc_id = meta["_index"], meta["_id"]
    reason = f"{REJECTED}:{error.get('type', 'unknown')}"
    try:
        doc = orjson.loads(source)
    except orjson.JSONDecodeError:
        doc = None
    if index == quarantine_index and isinstance(doc, dict) and isinstance(doc.get("offset"), int):
        kept = ("topic", "partition", "offset", "kafka_timestamp", "raw", "raw_encoding", "raw_truncated")
        safe = {k: doc.get(k) for k in kept}
        reasons = [r for r in doc.get("reasons") or [] if isinstance(r, str)][:20]
        safe.update(
            key=None,
            reasons=[*reasons, reason],
            reason=reasons[0] if reasons else reason,
            size_bytes=doc.get("size_bytes") if isinstance(doc.get("size_bytes"), int) else None,
            event_id=None,
            batch_id=doc.get("batch_id") if isinstance(doc.get("batch_id"), int) else None,
            quarantined_at=int(time.time() * 1000),
        )
        return doc_id, safe
    text, encoding, truncated = encode_raw(source)
    return f"rejected-{index}-{doc_id}"[:512], {
        "topic": None,
        "partition": None,
        "offset": None,
        "kafka_timestamp": None,
        "key": f"{index}/{doc_id}"[:MAX_KEY_CHARS],
        "reasons": [reason],
        "reason": reason,
        "raw": text,
        "raw_encoding": encoding,
        "raw_truncated": truncated,
        "size_bytes": len(source),
        "event_id": None,
        "batch_id": None,
        "quarantined_at": int(time.time() * 1000),
    }


# ---------------------------------------------------------------------------- quarantine


def encode_raw(raw: bytes | None) -> tuple[str, str, bool]:
    """(text, encoding, truncated): UTF-8 text when it decodes, else base64 of the bytes."""
    raw = raw or b""
    truncated = len(raw) > MAX_RAW_CHARS
    raw = raw[:MAX_RAW_CHARS]
    try:
        return raw.decode("utf-8"), "utf-8", truncated
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64", truncated


def quarantine_doc(
    topic: str,
    partition: int,
    offset: int,
    kafka_ms: int,
    key: bytes | None,
    raw: bytes | None,
    reasons: list[str],
    batch_id: int | None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The quarantine record of a Kafka record. Bounded: the raw payload up to
    :data:`MAX_RAW_CHARS`, the key and event id up to :data:`MAX_KEY_CHARS` (so a dead letter
    always fits a Kafka message and no keyword is an immense term)."""
    text, encoding, truncated = encode_raw(raw)
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "kafka_timestamp": kafka_ms,
        "key": key[:MAX_KEY_CHARS].decode("utf-8", "replace") if key is not None else None,
        "reasons": reasons,
        "reason": reasons[0],
        "raw": text,
        "raw_encoding": encoding,
        "raw_truncated": truncated,
        "size_bytes": len(raw or b""),
        "event_id": event_id[:MAX_KEY_CHARS] if event_id is not None else None,
        "batch_id": batch_id,
        "quarantined_at": int(time.time() * 1000),
    }


def quarantine_id(doc: dict[str, Any]) -> str:
    return f"{doc['topic']}-{doc['partition']}-{doc['offset']}"


@functools.cache
def executor_es(cfg: SinkConfig) -> Elasticsearch:
    """One client per Python worker: Spark reuses workers across tasks and micro-batches."""
    return cfg.es()


@functools.cache
def _deadletter_producer(cfg: SinkConfig) -> Any:
    """One idempotent producer per Python worker (created on the first bad record it sees)."""
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": cfg.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # A broker outage is waited out (write_quarantine), not failed after librdkafka's 5 min.
            "message.timeout.ms": int(cfg.outage_s * 1000) + 60_000,
        }
    )


def write_quarantine(docs: list[dict[str, Any]], cfg: SinkConfig, es: Elasticsearch | None = None) -> None:
    """Index quarantine docs (id = source position) and publish them to the dead-letter topic.

    The dead-letter topic is at-least-once (a re-run publishes again); its records are keyed by the
    source position so a consumer can de-duplicate. The index is exactly once (same ids).
    """
    if not docs:
        return
    es = es or executor_es(cfg)
    producer = _deadletter_producer(cfg)
    failures: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for doc in docs:
        key = quarantine_id(doc).encode()
        while True:
            try:
                producer.produce(
                    cfg.deadletter_topic, key=key, value=orjson.dumps(doc), on_delivery=delivered
                )
                break
            except BufferError:
                producer.poll(0.05)
    bulk_write(es, ndjson(cfg.quarantine_index, ((quarantine_id(d), d) for d in docs)), cfg)
    retrier = Retrier("Kafka", cfg.outage_s, cfg.backoff_s)
    while (left := producer.flush(5)) and not failures:
        retrier.wait(f"{left} dead letters undelivered")
    retrier.done()
    if failures:
        raise WriteError(f"dead-letter topic: {len(failures)} failed; first: {failures[0]}")


# ---------------------------------------------------------------------------- reading back

FETCH_TIMEOUT_S = 60.0
NEAR = 1_000  # positions this close in one partition are read in one sequential scan


def read_positions(
    cfg: SinkConfig, topic: str, positions: list[tuple[int, int]]
) -> dict[tuple[int, int], tuple[bytes | None, bytes | None]]:
    """(key, value) of the records at the given (partition, offset) positions, read back from Kafka
    (duplicates are quarantined with their payloads; the state keeps only their ids)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": cfg.bootstrap_servers,
            "group.id": "customer-events-stream-reread",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        }
    )
    wanted = set(positions)
    found: dict[tuple[int, int], tuple[bytes | None, bytes | None]] = {}
    try:
        for partition, first, last in _spans(positions):
            for msg in consume_range(consumer, topic, partition, first, last + 1):
                if (partition, msg.offset()) in wanted:
                    found[(partition, msg.offset())] = (msg.key(), msg.value())
    finally:
        consumer.close()
    return found


def _spans(positions: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(partition, first, last) runs covering the positions, split where they are far apart."""
    spans: list[tuple[int, int, int]] = []
    for p, o in sorted(set(positions)):
        if spans and spans[-1][0] == p and o - spans[-1][2] <= NEAR:
            spans[-1] = (p, spans[-1][1], o)
        else:
            spans.append((p, o, o))
    return spans


def consume_range(consumer: Any, topic: str, partition: int, start: int, end: int) -> Iterator[Any]:
    """The records at offsets [start, end) of one partition, in one sequential scan."""
    from confluent_kafka import TopicPartition

    consumer.assign([TopicPartition(topic, partition, start)])
    nxt = start
    deadline = time.monotonic() + FETCH_TIMEOUT_S
    while nxt < end:
        msgs = consumer.consume(num_messages=min(10_000, end - nxt), timeout=1.0)
        if not msgs and time.monotonic() > deadline:
            raise WriteError(f"no records from {topic}/{partition}@{nxt} within {FETCH_TIMEOUT_S:.0f} s")
        for msg in msgs:
            if msg.error() is not None:
                raise WriteError(f"{topic}/{partition}: {msg.error()}")
            if msg.offset() >= end:
                return
            nxt = msg.offset() + 1
            yield msg
