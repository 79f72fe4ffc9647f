"""Re-export of :mod:`streaming_platform.airflow_api` for modules importing it from the dashboard."""

from streaming_platform.airflow_api import PLATFORM_DAGS, AirflowClient, AirflowError

__all__ = ["PLATFORM_DAGS", "AirflowClient", "AirflowError"]
