"""Airflow-side building blocks of the platform's DAGs (hooks, checks, operators).

Kept in the package, not in ``dags/``, so the DAG files stay short and the pieces are testable
without a scheduler. Airflow is imported lazily inside functions: importing this package must
stay cheap for the dashboard and the Spark app.
"""
