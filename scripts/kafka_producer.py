"""Publish customer events to Kafka (same as the ``produce-events`` console script).

    .venv/bin/python scripts/kafka_producer.py --rate 5000 --duration 60 --bad-fraction 0.01
    .venv/bin/python scripts/kafka_producer.py --rate 0 --count 1000000 --seed 7
    .venv/bin/python scripts/kafka_producer.py --replay events.jsonl --rate 0

See ``--help`` and :mod:`streaming_platform.producer`.
"""

from __future__ import annotations

import sys

from streaming_platform.producer import main

if __name__ == "__main__":
    sys.exit(main())
