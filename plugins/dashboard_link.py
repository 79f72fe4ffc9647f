"""Airflow 3 plugin: a "Pipeline dashboard" link in the Airflow UI's navigation bar.

Uses the Airflow 3 ``external_views`` plugin interface (AIP-68): a view without ``url_route`` is
a plain link to ``href``. The dashboard URL comes from the platform settings (``bind.host`` and
``dashboard.port``), the same ones the dashboard binds to, so both always agree.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from streaming_platform import config


def dashboard_url(settings: config.Settings | None = None) -> str:
    settings = settings or config.load()
    host = settings["bind.host"]
    if host in ("0.0.0.0", "::"):
        host = "localhost"
    return f"http://{host}:{settings['dashboard.port']}/pipeline/"


def external_views(url: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "Pipeline dashboard",
            "href": url,
            "destination": "nav",  # the left navigation bar
            "category": "browse",
        },
    ]


class PipelineDashboardLink(AirflowPlugin):
    name = "pipeline_dashboard_link"
    external_views = external_views(dashboard_url())
