"""The pipeline dashboard: a FastAPI app serving live status, metrics, logs and configuration."""
