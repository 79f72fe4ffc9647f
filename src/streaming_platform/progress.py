"""Progress output for long-running commands: one flushed line per step, with a timestamp."""

from __future__ import annotations

import sys
import time

_T0 = time.monotonic()


def say(message: str) -> None:
    """Print a progress line immediately (also when stdout is a pipe, as under make or CI)."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stdout, flush=True)
