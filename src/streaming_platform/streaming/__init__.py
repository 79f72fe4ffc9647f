"""The Spark Structured Streaming app: Kafka customer events → Elasticsearch analytics, exactly once.

Layout (each module small and testable on its own):

- :mod:`.parse`   — runs in the Spark Python workers: parse + validate every Kafka record
  (orjson + :mod:`streaming_platform.validation`), write invalid ones to the quarantine (ES index
  + dead-letter topic) from the executors, return compact columns of the valid ones.
- :mod:`.state`   — the driver's exact aggregation state (customers, event-time windows, event-id
  dedup, watermark) as numpy columns, updated per micro-batch, persisted per batch id.
- :mod:`.sink`    — Elasticsearch bulk writes with retries/backoff; whole documents by id.
- :mod:`.app`     — the query: Kafka source → ``foreachBatch`` → state → writes → runtime metrics;
  bounded (availableNow) and graceful-stop modes; the spark-submit configuration.
"""
