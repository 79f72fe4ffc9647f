"""Process helpers of the embedded runtime."""

from __future__ import annotations

import sys

from streaming_platform.runtime import process


def test_tree_rss_counts_children_and_tolerates_gone_pids():
    import os
    import subprocess

    import psutil

    own = psutil.Process().memory_info().rss
    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(50_000_000); time.sleep(30)"])
    try:
        import time

        time.sleep(1.5)
        assert process.tree_rss_bytes(os.getpid()) >= own + 40_000_000
    finally:
        child.kill()
        child.wait()
    assert process.tree_rss_bytes(child.pid) == 0
