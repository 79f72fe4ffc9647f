"""Spark Structured Streaming app: customer events (Kafka) → Elasticsearch analytics, exactly once.

Submit (what the Airflow streaming_app DAG does; the full command line, with the Kafka connector
jars from jvm/spark/target/lib, comes from ``streaming_platform.streaming.submit.submit_command``)::

    .venv/bin/spark-submit --master local[2] \\
        --jars jvm/spark/target/lib/spark-sql-kafka-0-10_2.13-4.2.0.jar,... \\
        --conf spark.pyspark.python=.venv/bin/python \\
        spark_apps/customer_events_stream.py [--available-now] [--checkpoint DIR]

or simply ``.venv/bin/python spark_apps/customer_events_stream.py`` (same configuration).

Output mode: **append** into ``foreachBatch`` — each Kafka record is handed to exactly one
micro-batch; the batch writes whole documents by id (customers, window × category aggregates,
quarantine, runtime metrics), so re-running a batch after a crash rewrites, never adds.

``--available-now``: process everything in the topic, then exit (tests, the DAG test).
Otherwise it runs until SIGTERM/SIGINT or until ``<checkpoint>/STOP`` exists, and stops between
micro-batches. Settings: ``platform config`` (``spark.*``, ``kafka.*``, ``es.*``, ``validation.*``).
"""

from __future__ import annotations

import sys

from streaming_platform.streaming.app import main

if __name__ == "__main__":
    sys.exit(main())
