"""Read service logs from the end, by byte offset, without loading whole files.

A page is read backwards from ``before`` (default: the end of the file) in fixed-size chunks
until ``limit`` matching lines are found or ``MAX_SCAN_BYTES`` have been scanned; the answer
carries the offset to continue from, so the browser pages towards older lines. ``after`` reads
forwards from an offset (follow mode), again bounded.

Every line is redacted (:func:`redact`) before it is matched or served: a search finds the
redacted text only, so neither the line nor the search for a secret's value reveals it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024
MAX_SCAN_BYTES = 4 * 1024 * 1024
MAX_LINE_CHARS = 4000
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|SEVERE)\b")
_ALIASES = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR", "SEVERE": "ERROR"}
_SERVICE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


REDACTED = "***"
_SECRET_WORD = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)"
    r"[\w.-]*"
)
_QUOTED_OR_BARE = r"(\"[^\"]*\"|'[^']*'|[^\s,;&\"']+)"
_REDACTIONS: tuple[re.Pattern[str], ...] = (
    # Airflow's simple auth manager at first start: "Password for user 'admin': <password>".
    re.compile(r"(password for user '[^']*'\s*:\s*)" + _QUOTED_OR_BARE, re.IGNORECASE),
    # "Authorization: Bearer <token>", "'authorization': 'Basic <b64>'", also in a repr of headers.
    re.compile(
        r"(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|apikey)\s+)?)([^\s\"',;]+)",
        re.IGNORECASE,
    ),
    re.compile(r"(\b(?:bearer|basic)\s+)([A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE),
    # name=value and "name": "value" for secret-looking names (PLATFORM_ES_PASSWORD=, api_key: ...).
    re.compile(r"(\b" + _SECRET_WORD + r"[\"']?\s*[:=]\s*)" + _QUOTED_OR_BARE, re.IGNORECASE),
    # Command lines: --password <value>.
    re.compile(r"(--" + _SECRET_WORD + r"\s+)" + _QUOTED_OR_BARE, re.IGNORECASE),
    # URLs with credentials: scheme://user:<password>@host.
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(?=@)", re.IGNORECASE),
)


def _mask(match: re.Match[str]) -> str:
    value = match.group(2)
    quote = value[0] if value[:1] in ("'", '"') and len(value) > 1 and value[-1] == value[0] else ""
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


def redact(line: str) -> str:
    """``line`` with the values of passwords, tokens, keys and credentials replaced by ``***``."""
    for pattern in _REDACTIONS:
        line = pattern.sub(_mask, line)
    return line


class LogError(ValueError):
    """Bad log request (unknown service, bad level); the message says which."""


@dataclass(frozen=True)
class Query:
    level: str | None = None  # minimum level, e.g. WARN shows WARN and ERROR
    text: str | None = None  # case-insensitive substring

    def matches(self, line: str, level: str | None) -> bool:
        if self.level is not None and (level is None or _RANK[level] < _RANK[self.level]):
            return False
        return not self.text or self.text.lower() in line.lower()


def line_level(line: str) -> str | None:
    """The log level of a line, looked for near its start (timestamps and thread names first)."""
    found = _LEVEL.search(line[:160])
    if not found:
        return None
    word = found.group(1)
    return _ALIASES.get(word, word)


def normalise_level(level: str | None) -> str | None:
    if not level:
        return None
    upper = _ALIASES.get(level.upper(), level.upper())
    if upper not in _RANK:
        raise LogError(f"unknown level {level!r}; one of {', '.join(LEVELS)}")
    return upper


def services(log_dir: Path) -> list[dict[str, object]]:
    """The log files present: name (service), size in bytes and modification time."""
    if not log_dir.is_dir():
        return []
    rows = []
    for path in sorted(log_dir.glob("*.log")):
        stat = path.stat()
        rows.append({"service": path.stem, "size": stat.st_size, "modified": stat.st_mtime})
    return rows


def log_path(log_dir: Path, service: str) -> Path:
    if not _SERVICE.match(service):
        raise LogError(f"bad service name {service!r}")
    path = log_dir / f"{service}.log"
    if not path.is_file():
        raise LogError(f"no log for service {service!r} (looked for {path})")
    return path


def _entry(offset: int, raw: bytes) -> tuple[dict[str, object], str, str | None]:
    text = redact(raw.decode("utf-8", "replace").rstrip("\r")[:MAX_LINE_CHARS])
    level = line_level(text)
    return {"offset": offset, "text": text, "level": level}, text, level


def read_backwards(path: Path, before: int | None, limit: int, query: Query) -> dict[str, object]:
    """Up to ``limit`` matching lines that end at or before byte ``before``, oldest first."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        end = size if before is None else max(0, min(before, size))
        found: list[dict[str, object]] = []
        pos, carry, scanned = end, b"", 0
        while pos > 0 and len(found) < limit and scanned < MAX_SCAN_BYTES:
            start = max(0, pos - CHUNK)
            fh.seek(start)
            block = fh.read(pos - start) + carry
            scanned += pos - start
            parts = block.split(b"\n")
            # The first part may be the tail of an earlier line unless we reached the file start.
            carry = parts.pop(0) if start > 0 else b""
            line_offset = start + len(carry) + (1 if start > 0 else 0)
            offsets = []
            for part in parts:
                offsets.append(line_offset)
                line_offset += len(part) + 1
            for off, part in reversed(list(zip(offsets, parts, strict=True))):
                if off >= end:
                    continue
                entry, text, level = _entry(off, part)
                if text and query.matches(text, level):
                    found.append(entry)
                    if len(found) >= limit:
                        break
            pos = start
            if len(found) >= limit:
                pos = int(found[-1]["offset"])  # type: ignore[arg-type]
    found.reverse()
    return {"lines": found, "next_before": pos if pos > 0 else None, "size": size, "end": end}


def read_forwards(path: Path, after: int, limit: int, query: Query) -> dict[str, object]:
    """Matching complete lines that start at or after byte ``after`` (follow mode)."""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if after > size:  # the file was truncated or rotated: start again at its end
            after = size
        fh.seek(after)
        data = fh.read(min(size - after, MAX_SCAN_BYTES))
    complete = data[: data.rfind(b"\n") + 1]
    found: list[dict[str, object]] = []
    offset = after
    for part in complete.split(b"\n")[:-1]:
        entry, text, level = _entry(offset, part)
        offset += len(part) + 1
        if text and query.matches(text, level):
            found.append(entry)
    return {"lines": found[-limit:], "next_after": after + len(complete), "size": size}
