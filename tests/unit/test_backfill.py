"""Staging of a backfill's files (pure: files and folders, no Spark)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from streaming_platform.streaming import backfill


def _file(path: Path, text: bytes) -> Path:
    path.write_bytes(text)
    return path


def test_lines_are_numbered_as_in_the_file_and_blank_ones_are_no_records(tmp_path: Path) -> None:
    src = _file(tmp_path / "h.jsonl", b'{"a":1}\n\n  \n{"a":2}\r\nnot json\n\xff\xfe\n')
    backfill.stage(tmp_path / "cp", [src])
    table = pq.read_table(tmp_path / "cp" / backfill.FOLDER / "part-00000.parquet")
    assert table.column("line").to_pylist() == [1, 4, 5, 6]
    assert table.column("value").to_pylist() == [b'{"a":1}', b'{"a":2}', b"not json", b"\xff\xfe"]
    assert set(table.column("written_ms").to_pylist()) == {int(src.stat().st_mtime * 1000)}
    assert backfill.sources(tmp_path / "cp", "events").files == ("h.jsonl",)
    assert backfill.sources(tmp_path / "cp", "events").name(-1) == "file:h.jsonl"
    assert backfill.read_lines(str(tmp_path / "cp"), [(-1, 5), (-1, 1)]) == {
        (-1, 5): b"not json",
        (-1, 1): b'{"a":1}',
    }


def test_a_rerun_finds_the_files_staged(tmp_path: Path) -> None:
    src = _file(tmp_path / "h.jsonl", b'{"a":1}\n')
    backfill.stage(tmp_path / "cp", [src])
    src.write_bytes(b'{"a":1}\n{"a":2}\n')  # staged once: a re-run reads what the first run staged
    backfill.stage(tmp_path / "cp", [src])
    assert pq.read_table(tmp_path / "cp" / backfill.FOLDER).num_rows == 1


@pytest.mark.parametrize(
    ("setup", "files", "message"),
    [
        ("commits", ["h.jsonl"], "has run batches"),
        ("staged", ["other.jsonl"], "already backfills"),
        (None, ["missing.jsonl"], "no such file"),
        (None, ["h.jsonl", "sub/h.jsonl"], "share a name"),
    ],
)
def test_what_cannot_be_backfilled_is_refused(
    tmp_path: Path, setup: str | None, files: list[str], message: str
) -> None:
    for name in ("h.jsonl", "other.jsonl", "sub/h.jsonl"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        _file(tmp_path / name, b'{"a":1}\n')
    checkpoint = tmp_path / "cp"
    if setup == "commits":
        (checkpoint / "commits").mkdir(parents=True)
        (checkpoint / "commits" / "0").write_text("v1")
    if setup == "staged":
        backfill.stage(checkpoint, [tmp_path / "h.jsonl"])
    with pytest.raises(backfill.BackfillError, match=message):
        backfill.stage(checkpoint, [tmp_path / f for f in files])


def test_file_lists() -> None:
    assert backfill.parse_files("") == []
    assert backfill.parse_files(" a.jsonl, /x/b.jsonl ,") == [Path("a.jsonl"), Path("/x/b.jsonl")]
