"""The pipeline bench's per-event latency to the customer documents (pure; no services)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from pipeline_bench import probed_customer_latencies


def test_each_event_waits_for_the_first_poll_whose_total_holds_it():
    # c1 had 10 events before the run; its 3 new events were produced at 1000, 1100 and 1200 ms.
    # Polls saw total 11 at 1500 ms and 13 at 2300 ms: event 1 at 1500, events 2 and 3 at 2300.
    seen = {"c1": [(10, 900), (11, 1500), (13, 2300)], "c2": [(0, 900), (1, 1250)]}
    produced = {b"c1": [1000, 1100, 1200], b"c2": [1000]}
    got = probed_customer_latencies(seen, {"c1": 10, "c2": 0}, produced)
    assert sorted(got.tolist()) == sorted([500, 1200, 1100, 250])


def test_events_never_seen_are_left_out_not_counted_as_zero():
    seen = {"c1": [(5, 900), (6, 1500)]}
    got = probed_customer_latencies(seen, {"c1": 5}, {b"c1": [1000, 1100], b"c9": [1000]})
    assert got.tolist() == [500]  # the second event of c1 and c9's event were never seen


def test_no_polls_gives_an_empty_array():
    got = probed_customer_latencies({}, {}, {b"c1": [1]})
    assert len(got) == 0 and got.dtype == np.int64
