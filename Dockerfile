# Leadly's application image: the API (`leadly api`), the dispatcher (`leadly worker`) and the
# one-shot migrations (`leadly db upgrade`) all run from it. Built with uv from uv.lock.
FROM python:3.12-slim

COPY --from=ghcr.io/astral-sh/uv:latest /uv /uvx /usr/local/bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LEADLY_API_HOST=0.0.0.0 \
    LEADLY_DATA_DIR=/var/lib/leadly \
    LEADLY_DBT_PROJECT_DIR=/app/dbt \
    LEADLY_DBT_TARGET_PATH=/var/lib/leadly/dbt/target \
    LEADLY_DBT_LOG_PATH=/var/lib/leadly/dbt/logs

WORKDIR /app

# WeasyPrint (report and dashboard PDFs, api/reports) lays text out with Pango; a font to draw.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
        fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first (a layer that changes only with the lock file) ...
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# ... then the project itself. Folders are listed so a local .venv never enters the image.
COPY api ./api
COPY warehouse ./warehouse
COPY ingestion ./ingestion
COPY orchestration ./orchestration
COPY ml ./ml
COPY apps ./apps
# The dbt project is not in the wheel: it stays in /app/dbt (LEADLY_DBT_PROJECT_DIR), read-only
# for the runtime user; dbt writes target/ and logs/ under the data folder instead.
COPY dbt ./dbt
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# /app/dbt/target is writable too: Dagster's dbt assets keep their own target folder inside the
# project (orchestration/dbt_project.py, target/dagster).
RUN useradd --system --uid 1000 --home-dir /var/lib/leadly --create-home leadly \
    && install -d -o leadly -g leadly /var/lib/leadly/dbt/target /var/lib/leadly/dbt/logs \
        /app/dbt/target
USER leadly

EXPOSE 8000
CMD ["leadly", "api"]
