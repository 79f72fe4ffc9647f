"""``python -m streaming_platform.dashboard``: serve the dashboard on bind.host:dashboard.port."""

from __future__ import annotations

import logging

import uvicorn

from streaming_platform import config
from streaming_platform.dashboard.app import create_app


def main() -> None:
    settings = config.load()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings["bind.host"],
        port=settings["dashboard.port"],
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()
