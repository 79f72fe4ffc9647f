"""Spark (local mode, pyspark) reads a Kafka topic through the Maven-resolved Kafka connector."""

from __future__ import annotations

import os
import sys

import pytest

from streaming_platform.runtime.java import jars
from tests.integration.conftest import N_KEYS, N_MESSAGES


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("it-spark-kafka-batch")
        .config("spark.jars", ",".join(str(j) for j in jars("spark")))
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_batch_read_counts_exactly(spark, kafka_up, keyed_topic):
    from pyspark.sql import functions as F

    df = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", kafka_up["kafka.bootstrap.servers"])
        .option("subscribe", keyed_topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    row = df.agg(
        F.count("*").alias("n"),
        F.countDistinct("value").alias("distinct_values"),
        F.countDistinct("key").alias("keys"),
    ).first()
    assert (row.n, row.distinct_values, row.keys) == (N_MESSAGES, N_MESSAGES, N_KEYS)
