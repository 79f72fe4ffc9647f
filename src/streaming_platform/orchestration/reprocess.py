"""Reprocessing, the Kappa way: the same app, a second instance, a new version of the results.

``prepare`` picks the version (the one after every version there is; an unfinished one above
the live version is resumed from its checkpoint) and creates its indices beside the live ones.
The app then runs with ``--version N --from <start> --catch-up`` from a checkpoint of its own
(:func:`app_args`), until it is less than a batch behind the topic's end. ``switch`` points the
readers' aliases at version N in one atomic request, records it as the live version and asks the
old instance to stop; the ``streaming_app`` DAG then runs the live app on version N's checkpoint.
Readers never see a gap: until the switch they read the old version, after it the new one.
A backfill is a reprocess with files: historical JSON-lines files read beside the topic's
history, their events in the windows of their own event time (:mod:`..streaming.backfill`).
A new version backfills again the files the live version backfilled (:func:`backfill_files`):
their events are not in the topic, and a reprocess must not lose them.
The old version's indices stay (delete them once the new one is trusted).
"""

from __future__ import annotations

import time
from pathlib import Path

from streaming_platform import clients, config, es_indices
from streaming_platform.progress import say
from streaming_platform.streaming import STOP_FILE, app_checkpoint, live_version, record_live_version


def next_version(live: int | None, known: list[int]) -> int:
    """The version a reprocess writes: an unfinished one above the live version, else a new one
    (at least 2: versions 0 and 1 share the first checkpoint)."""
    newer = [v for v in known if v > (live or 0)]
    return max(newer) if newer else max([*known, live or 0, 1]) + 1


def prepare(settings: config.Settings | None = None) -> int:
    """Create the next version's indices; return its number."""
    settings = settings or config.load()
    es = clients.es_client(settings)
    live, known = es_indices.versions(es, settings)
    version = next_version(live, known)
    created = es_indices.ensure_version(es, settings, version)
    resumed = "" if created else " (resumed: its indices and checkpoint exist)"
    say(f"version {version} of the results{resumed}; readers stay on version {live} until the switch")
    say(f"  indices: {', '.join(es_indices.version_indices(settings, version).values())}")
    say(f"  checkpoint: {app_checkpoint(settings, version)}")
    return version


def app_args(version: int | str, start: str, backfill: str = "") -> list[str]:
    """The app's arguments of a reprocess (``start``: ``earliest`` or an ISO 8601 time;
    ``backfill``: JSON-lines files, comma-separated, read beside the topic)."""
    args = ["--version", str(version), "--from", start, "--catch-up"]
    return [*args, "--backfill", backfill] if backfill else args


def backfill_files(extra: str, settings: config.Settings | None = None) -> str:
    """The files version N backfills, comma-separated: the live version's own (carried forward)
    and ``extra`` (the reprocess's param)."""
    from streaming_platform.streaming import backfill  # pyarrow: task-time import

    settings = settings or config.load()
    carried = backfill.staged_paths(app_checkpoint(settings))
    gone = [p for p in carried if not Path(p).is_file()]
    if gone:
        raise FileNotFoundError(
            f"the live version backfilled {', '.join(gone)}, which is gone: put it back (a new "
            "version without it would lose its events)"
        )
    files = list(dict.fromkeys([*carried, *(str(p.resolve()) for p in backfill.parse_files(extra))]))
    for path in files:
        say(f"backfill: {path}{' (carried forward from the live version)' if path in carried else ''}")
    return ",".join(files)


def switch(version: int, settings: config.Settings | None = None) -> int:
    """Point the aliases at ``version``, record it as live and ask the old instance to stop;
    return the old version."""
    settings = settings or config.load()
    es = clients.es_client(settings)
    old = live_version(settings)
    es_indices.point_aliases(es, settings, version)
    record_live_version(settings, version)
    say(f"readers now read version {version} (was {old}): aliases switched in one request")
    stop = app_checkpoint(settings, old) / STOP_FILE
    if stop.parent.is_dir():
        stop.write_text(
            f"stop requested at {time.strftime('%Y-%m-%dT%H:%M:%S%z')} (version {version} is live)\n"
        )
        say(f"asked the app on version {old} to stop ({stop})")
    return old
