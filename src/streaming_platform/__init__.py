"""Real-time customer-event analytics platform: Kafka → Spark Structured Streaming → Elasticsearch.

This package holds what every entry point shares: configuration (:mod:`.config`), the event
schema and validation rules, service clients, and the embedded runtime that starts Kafka,
Elasticsearch, Airflow and the dashboard on one machine.
"""

__version__ = "0.1.0"
