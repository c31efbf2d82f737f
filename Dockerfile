# The collector service image: API, ingest, detector leader and webhook dispatcher in one
# process. Run several replicas over one PostgreSQL/TimescaleDB (see deploy/compose).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY cutwatch ./cutwatch
COPY probes ./probes
COPY api ./api
COPY detectors ./detectors
RUN python -m venv /opt/cutwatch \
 && /opt/cutwatch/bin/pip install --no-cache-dir -c constraints.txt '.[service]'

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
# Set DATABASE_URL. Without it `cutwatch serve` starts an embedded PostgreSQL inside the
# container: one per replica, gone with the container.
ENTRYPOINT ["cutwatch"]
CMD ["serve"]
