# syntax=docker/dockerfile:1
# bandwise: one image for the bot/HTTP service and the backup scheduler.
#
# PG_MAJOR must equal the major version of the compose `postgres` service (docker-compose.yml
# passes the same variable to both): pg_dump refuses to dump a server newer than itself, and a
# dump made by a newer pg_dump may not restore into an older server. 17 is the default because
# it is the newest major with a long support window (until November 2029) at the time of
# writing; Debian bookworm ships only 15, so the client comes from the PostgreSQL project's
# Debian repository (PGDG), configured from the signing key shipped in postgresql-common.
# PG_CLIENT_SOURCE=debian takes the client from Debian's own archive instead (bookworm: 15
# only); the deploy tests use it with stand-in base images built from Debian packages
# (scripts/build-standin-images.sh), since they reach no registry and no PGDG.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG PG_MAJOR=17
ARG PG_CLIENT_SOURCE=pgdg

# --- build: a virtual environment with the locked dependencies and the package -------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first: this layer is reused while requirements.lock is unchanged.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . && python -m compileall -q /opt/venv

# --- runtime: slim, PostgreSQL client tools, non-root -----------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG PG_MAJOR
ARG PG_CLIENT_SOURCE
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    API_HOST=0.0.0.0 API_PORT=8080 \
    SQLITE_PATH=/app/data/bandwise.db MAINTENANCE_FLAG_PATH=/app/data/maintenance.flag \
    BACKUP_DIR=/app/backups
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends postgresql-common ca-certificates; \
    case "$PG_CLIENT_SOURCE" in \
        pgdg) /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y ;; \
        debian) ;; \
        *) echo "PG_CLIENT_SOURCE must be pgdg or debian, not '$PG_CLIENT_SOURCE'" >&2; exit 1 ;; \
    esac; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    rm -rf /var/lib/apt/lists/*; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump" --version
ENV PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH
RUN groupadd --system --gid 10001 bandwise \
    && useradd --system --uid 10001 --gid bandwise --home-dir /app --shell /usr/sbin/nologin bandwise \
    && mkdir -p /app/data /app/backups \
    && chown -R bandwise:bandwise /app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER bandwise:bandwise
EXPOSE 8080
# Ready means: database answers, schema at head, pool has room (503 otherwise).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('API_PORT', '8080'), timeout=4)"]
CMD ["bandwise", "serve"]
