# Dashboard image: the React front end (dashboard/web) built with the official Node image, served
# together with the FastAPI back end (`python -m streaming_platform.dashboard`) from the official
# Python image. Repository layout under /opt/platform, so REPO_ROOT/dashboard/web/dist resolves.
# Build context: the repository root (see docker-compose.yaml).
FROM node:22-bookworm-slim AS web
WORKDIR /opt/platform/dashboard/web
COPY dashboard/web/ ./
RUN if [ -f package-lock.json ]; then npm ci; else npm install; fi && npm run build

FROM python:3.11-slim-bookworm
ARG PLATFORM_UID=50000
COPY docker/requirements/dashboard.txt /opt/platform/docker/requirements/dashboard.txt
RUN pip install --no-cache-dir -r /opt/platform/docker/requirements/dashboard.txt
COPY src /opt/platform/src
COPY contracts /opt/platform/contracts
COPY --from=web /opt/platform/dashboard/web/dist /opt/platform/dashboard/web/dist
RUN set -eux; \
    mkdir -p /opt/platform/home; \
    chown -R "${PLATFORM_UID}:0" /opt/platform/home; \
    chmod -R g+rwX /opt/platform/home
ENV PYTHONPATH=/opt/platform/src \
    PLATFORM_HOME=/opt/platform/home \
    PYTHONUNBUFFERED=1
WORKDIR /opt/platform
USER ${PLATFORM_UID}:0
EXPOSE 3000
CMD ["python", "-m", "streaming_platform.dashboard"]
