"""Airflow Assets of the platform: its Kafka topics and Elasticsearch indices, named from settings.

The one place the DAGs get their lineage from, so ``platform_setup``, ``streaming_app``,
``demo_load`` and ``data_quality`` name the same Asset for the same topic or index. URIs:
``kafka://<first bootstrap server>/<topic>`` and ``elasticsearch://<host:port>/<index>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from streaming_platform import config
from streaming_platform.es_indices import APP_INDEX_KEYS

if TYPE_CHECKING:
    from airflow.sdk import Asset

    from streaming_platform.config import Settings


def topic_uri(settings: Settings, topic: str) -> str:
    """``kafka://host:port/topic``; the first bootstrap server stands for the cluster."""
    server = settings["kafka.bootstrap.servers"].split(",")[0].strip()
    return f"kafka://{server}/{topic}"


def index_uri(settings: Settings, index: str) -> str:
    """``elasticsearch://host:port/index``, without the URL's scheme or credentials."""
    parts = urlsplit(config.es_hosts(settings["es.url"])[0])  # the first node stands for the cluster
    host = parts.hostname or "localhost"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"elasticsearch://{netloc}/{index}"


@dataclass(frozen=True)
class PlatformAssets:
    """The platform's Assets, grouped the way the DAGs use them."""

    events_topic: Asset
    deadletter_topic: Asset
    app_indices: tuple[Asset, ...]  # written by the streaming app, validated by data_quality
    quality_index: Asset

    @property
    def topics(self) -> tuple[Asset, ...]:
        return (self.events_topic, self.deadletter_topic)

    @property
    def provisioned(self) -> tuple[Asset, ...]:
        """What ``platform_setup`` creates: both topics and the app's indices."""
        return (*self.topics, *self.app_indices)


def platform_assets(settings: Settings | None = None) -> PlatformAssets:
    """Build the Assets from the settings (loaded from the environment when not given)."""
    from airflow.sdk import Asset  # lazy: importing the package must stay cheap outside Airflow

    settings = settings or config.load()

    def topic(key: str) -> Asset:
        return Asset(uri=topic_uri(settings, settings[key]), group="kafka")

    def index(key: str) -> Asset:
        return Asset(uri=index_uri(settings, settings[f"es.index.{key}"]), group="elasticsearch")

    return PlatformAssets(
        events_topic=topic("kafka.topic.events"),
        deadletter_topic=topic("kafka.topic.deadletter"),
        app_indices=tuple(index(key) for key in APP_INDEX_KEYS),
        quality_index=index("quality"),
    )
