"""Historical JSON-lines files backfilled into a new version of the results, beside the topic.

``--backfill FILE[,FILE...]`` stages the files into the version's checkpoint
(``<checkpoint>/backfill/part-<i>.parquet``: each non-blank line's bytes and line number, and
``backfill.json`` naming the files), and the plan reads that folder with Spark's file source
beside Kafka (:func:`file_source`). A file source takes every file present in its first
micro-batch, so all the files' events are in batch 0, before any watermark exists: each lands in
the window of its own event time and in its customer's totals, the same transformations as the
stream's. Later batches find no new file. The record of line L of the i-th file has partition
-(i+1) and offset L: its position, its id when it has no ``event_id`` (``file:<name>/-(i+1)/L``),
and where a duplicate's or late event's payload is read back from (:func:`read_lines`). Its time
of arrival (Kafka's append time for a record) is its file's modification time: an event dated
after its file was written is from the future.

Exactly once as for Kafka: the file source logs what it read in the checkpoint with the offsets,
and a backfill of the same files into another version gives the same documents. Files are staged
only into a checkpoint without a batch yet (files added later would land behind the watermark);
a re-run of a failed backfill finds them staged and goes on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from streaming_platform.progress import say
from streaming_platform.streaming.parse import Sources

MANIFEST = "backfill.json"
FOLDER = "backfill"
STAGED = pa.schema(
    [("value", pa.binary()), ("line", pa.int64()), ("file", pa.int32()), ("written_ms", pa.int64())]
)
STAGED_DDL = "value binary, line bigint, file int, written_ms bigint"
CHUNK_LINES = 100_000


class BackfillError(RuntimeError):
    """The files cannot be backfilled into this checkpoint (said in one line)."""


def parse_files(text: str) -> list[Path]:
    """``a.jsonl,b.jsonl`` → their paths (an empty text: none)."""
    return [Path(p.strip()) for p in text.split(",") if p.strip()]


def stage(checkpoint: Path, files: list[Path]) -> None:
    """Stage ``files`` into the checkpoint (see the module); the names are the files' own."""
    if not files:
        return
    names = [f.name for f in files]
    manifest = checkpoint / MANIFEST
    if manifest.exists():
        staged = json.loads(manifest.read_text())["files"]
        if staged != names:
            raise BackfillError(f"{checkpoint} already backfills {staged}, not {names}: use a new version")
        return
    if (checkpoint / "commits").is_dir() and any((checkpoint / "commits").iterdir()):
        raise BackfillError(
            f"{checkpoint} has run batches: a backfill goes into a new version (its files must be in "
            "its first batch, before the watermark), e.g. the reprocess DAG with param backfill"
        )
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise BackfillError(f"no such file: {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise BackfillError(f"two files share a name (their records' ids would collide): {names}")
    folder = checkpoint / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    counts = [_stage_file(path, i, folder, int(path.stat().st_mtime * 1000)) for i, path in enumerate(files)]
    paths = [str(f.resolve()) for f in files]  # what a later reprocess backfills again
    manifest.write_text(json.dumps({"files": names, "paths": paths, "records": counts}, indent=1))
    for name, n in zip(names, counts, strict=True):
        say(f"  backfill: {n:,} records of {name} staged into {folder}")


def _stage_file(path: Path, index: int, folder: Path, written_ms: int) -> int:
    """Write one file's non-blank lines as a Parquet part; return how many."""
    # Written under a dot name, then renamed: the file source ignores hidden files.
    tmp, final = folder / f".part-{index:05d}.parquet", folder / f"part-{index:05d}.parquet"
    n = 0
    with path.open("rb") as src, pq.ParquetWriter(tmp, STAGED) as out:
        values: list[bytes] = []
        lines: list[int] = []
        for number, raw in enumerate(src, start=1):
            value = raw.rstrip(b"\r\n")
            if value.strip():
                values.append(value)
                lines.append(number)
            if len(values) >= CHUNK_LINES:
                n += _write_chunk(out, values, lines, index, written_ms)
                values, lines = [], []
        n += _write_chunk(out, values, lines, index, written_ms)
    tmp.rename(final)
    return n


def _write_chunk(out: pq.ParquetWriter, values: list[bytes], lines: list[int], index: int, ms: int) -> int:
    if values:
        n = len(values)
        cols = [pa.array(values, pa.binary()), pa.array(lines, pa.int64())]
        cols += [pa.array([index] * n, pa.int32()), pa.array([ms] * n, pa.int64())]
        out.write_table(pa.Table.from_arrays(cols, schema=STAGED))
    return len(values)


def sources(checkpoint: Path, topic: str) -> Sources:
    """The topic and the files this checkpoint backfills (none: a plain stream)."""
    manifest = checkpoint / MANIFEST
    return Sources(topic, tuple(json.loads(manifest.read_text())["files"]) if manifest.exists() else ())


def staged_paths(checkpoint: Path) -> list[str]:
    """The paths of the files this checkpoint backfills, as they were given (none: a plain stream)."""
    manifest = checkpoint / MANIFEST
    return json.loads(manifest.read_text()).get("paths", []) if manifest.exists() else []


def file_source(spark: Any, checkpoint: Path) -> Any:
    """The staged files as a stream with the Kafka source's columns (partition -(i+1), offset: line)."""
    return (
        spark.readStream.schema(STAGED_DDL)
        .parquet(str(checkpoint / FOLDER))
        .selectExpr(
            "CAST(NULL AS BINARY) AS key",
            "value",
            "CAST(-1 - file AS INT) AS partition",
            "line AS offset",
            "written_ms AS kafka_ms",
        )
    )


def read_lines(checkpoint: str, positions: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The staged payloads at (partition, line) positions of file records (executor side)."""
    found: dict[tuple[int, int], bytes] = {}
    by_file: dict[int, set[int]] = {}
    for p, line in positions:
        by_file.setdefault(-p - 1, set()).add(line)
    for index, lines in by_file.items():
        part = Path(checkpoint) / FOLDER / f"part-{index:05d}.parquet"
        table = pq.read_table(part, columns=["line", "value"], filters=[("line", "in", sorted(lines))])
        for line, value in zip(*(table.column(c).to_pylist() for c in ("line", "value")), strict=True):
            found[(-index - 1, line)] = value
    return found
