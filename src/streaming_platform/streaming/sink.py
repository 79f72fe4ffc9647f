"""Writes of the streaming app: Elasticsearch bulk (whole documents by id) and the dead-letter topic.

Every write is idempotent — a document id is a function of what it describes (customer id,
window × category, topic/partition/offset, batch id) and the body is the whole document — so a
micro-batch re-run after a crash rewrites the same documents. Failures are retried with
exponential backoff (connection errors, 429 / 502 / 503 / 504, per-item 429); anything still
failing raises :class:`WriteError`, which fails the micro-batch: Spark does not commit it and
re-runs it from the checkpoint. Nothing is skipped.
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
MAX_RAW_CHARS = 65_536  # quarantined payloads beyond this are truncated (the source offset is kept)


class WriteError(RuntimeError):
    """A write could not be completed after retries: the micro-batch must fail."""


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
    max_retries: int = 8
    backoff_s: float = 0.2

    def es(self) -> Elasticsearch:
        auth = (self.es_username, self.es_password) if self.es_username else None
        return Elasticsearch(self.es_url, basic_auth=auth, request_timeout=60, max_retries=0)


def ndjson(index: str, docs: Iterable[tuple[str, dict[str, Any] | bytes]]) -> list[bytes]:
    """Bulk ``index`` operations (action line + source line) for (id, doc) pairs; a doc given as
    bytes is its JSON already."""
    out = []
    for doc_id, doc in docs:
        source = doc if isinstance(doc, bytes) else orjson.dumps(doc)
        out.append(orjson.dumps({"index": {"_index": index, "_id": doc_id}}) + b"\n" + source)
    return out


def _send(es: Elasticsearch, ops: list[bytes], cfg: SinkConfig) -> None:
    """Send one bulk request; retry what failed transiently; raise on anything else."""
    pending = ops
    for attempt in range(cfg.max_retries + 1):
        try:
            resp = es.bulk(operations=pending, filter_path="errors,items.*.status,items.*.error")
        except (EsConnectionError, EsConnectionTimeout) as exc:
            failure: str = f"connection: {exc}"
        except ApiError as exc:
            if exc.meta.status not in RETRYABLE_STATUS:
                raise WriteError(f"bulk rejected: {exc}") from exc
            failure = f"HTTP {exc.meta.status}"
        else:
            if not resp.get("errors"):
                return
            retry, fatal = [], []
            for op, item in zip(pending, resp["items"], strict=True):
                result = next(iter(item.values()))
                if result.get("status", 200) < 300:
                    continue
                (retry if result["status"] in RETRYABLE_STATUS else fatal).append((op, result))
            if fatal:
                raise WriteError(f"{len(fatal)} documents rejected, first: {fatal[0][1].get('error')}")
            pending = [op for op, _ in retry]
            failure = f"{len(pending)} items {retry[0][1]['status']}"
        if attempt < cfg.max_retries:
            time.sleep(min(cfg.backoff_s * 2**attempt, 10.0))
    raise WriteError(f"bulk failed after {cfg.max_retries} retries: {failure}")


def bulk_write(es: Elasticsearch, ops: Sequence[bytes], cfg: SinkConfig) -> int:
    """Write ``ops`` in chunks of ``cfg.bulk_docs``, ``cfg.bulk_threads`` requests in flight."""
    chunks = [list(ops[i : i + cfg.bulk_docs]) for i in range(0, len(ops), cfg.bulk_docs)]
    if len(chunks) <= 1 or cfg.bulk_threads <= 1:
        for chunk in chunks:
            _send(es, chunk, cfg)
    else:
        with ThreadPoolExecutor(cfg.bulk_threads) as pool:
            for f in [pool.submit(_send, es, c, cfg) for c in chunks]:
                f.result()  # re-raises the first WriteError
    return len(ops)


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
    text, encoding, truncated = encode_raw(raw)
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "kafka_timestamp": kafka_ms,
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "reasons": reasons,
        "reason": reasons[0],
        "raw": text,
        "raw_encoding": encoding,
        "raw_truncated": truncated,
        "size_bytes": len(raw or b""),
        "event_id": event_id,
        "batch_id": batch_id,
        "quarantined_at": int(time.time() * 1000),
    }


def quarantine_id(doc: dict[str, Any]) -> str:
    return f"{doc['topic']}-{doc['partition']}-{doc['offset']}"


@functools.cache
def _executor_es(cfg: SinkConfig) -> Elasticsearch:
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
        }
    )


def write_quarantine(docs: list[dict[str, Any]], cfg: SinkConfig, es: Elasticsearch | None = None) -> None:
    """Index quarantine docs (id = source position) and publish them to the dead-letter topic.

    The dead-letter topic is at-least-once (a re-run publishes again); its records are keyed by the
    source position so a consumer can de-duplicate. The index is exactly once (same ids).
    """
    if not docs:
        return
    es = es or _executor_es(cfg)
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
    left = producer.flush(60)
    if failures or left:
        raise WriteError(f"dead-letter topic: {len(failures)} failed, {left} undelivered; {failures[:1]}")
