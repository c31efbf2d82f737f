#!/usr/bin/env bash
# The storage-touching tests once more, on a real PostgreSQL 15 server: the design promises
# every query runs on plain PostgreSQL 15+, while the default run uses the embedded wheel's
# newer server. `make pytest-pg15` (part of `make test`) runs this.
#
# A throwaway cluster is made in a temp dir owned by the server's user (initdb and postgres
# refuse to run as root), listens only on a unix socket in that dir (no TCP at all), and is
# always stopped and removed on exit, also when the tests fail or the run is interrupted.
# Without a PostgreSQL 15 installation it installs Debian's package when it can (root,
# apt-get), otherwise it prints one line and succeeds.
#
# Usage: tests/pg15.sh [extra pytest args]
#   PG15_BIN   server binaries (default /usr/lib/postgresql/15/bin, Debian's postgresql-15)
#   PYTEST     pytest to run (default .venv/bin/pytest)
#   PG15_TESTS test paths instead of the default set (space-separated)
#   PG15_NO_INSTALL=1  never apt-get install postgresql-15
#   CI         when set, a missing PostgreSQL 15 fails the run instead of skipping it
set -euo pipefail
cd "$(dirname "$0")/.."

PG15_BIN=${PG15_BIN:-/usr/lib/postgresql/15/bin}
PYTEST=${PYTEST:-.venv/bin/pytest}
# The detector's database tests are the ones using the PostgreSQL fixtures.
# shellcheck disable=SC2206  # PG15_TESTS is a space-separated list of paths
TESTS=(${PG15_TESTS:-tests/api tests/webhooks
       $(grep -l -E 'database_url|postgres_url' tests/detectors/test_*.py)
       tests/dashboard/test_series_api.py tests/dashboard/test_probe_rollups.py})

have_pg15() { [[ -x "$PG15_BIN/initdb" && -x "$PG15_BIN/pg_ctl" && -x "$PG15_BIN/psql" ]]; }
# As root on Debian, install it when missing: about 20 s from nothing (measured here).
if ! have_pg15 && [[ $(id -u) -eq 0 && -z ${PG15_NO_INSTALL:-} ]] \
        && [[ $PG15_BIN == /usr/lib/postgresql/15/bin ]] && command -v apt-get >/dev/null; then
    echo "pytest-pg15: installing Debian's postgresql-15 (PG15_NO_INSTALL=1 prevents this)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends postgresql-15; } >/dev/null 2>&1 || true
fi
if ! have_pg15; then
    # CI promises both passes: there a missing server is a failure, not a skip.
    if [[ -n ${CI:-} ]]; then
        echo "pytest-pg15: failed, no PostgreSQL 15 at $PG15_BIN and CI is set" >&2
        exit 1
    fi
    echo "pytest-pg15: skipped, no PostgreSQL 15 at $PG15_BIN (apt-get install postgresql-15)"
    exit 0
fi

# Who runs the server: ourselves, or as root the postgres user Debian's package creates.
as_server() { "$@"; }
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    as_server() { runuser -u postgres -- "$@"; }
fi

dir=$(mktemp -d /tmp/cutwatch-pg15.XXXXXX)   # short: the socket path has a 107-byte limit
cleanup() {
    status=$?
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_server "$PG15_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
as_server "$PG15_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
# Durability is pointless for a cluster that is deleted afterwards: fsync off saves time.
as_server "$PG15_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c max_connections=200" >/dev/null \
    || { cat "$dir/server.log"; exit 1; }

export CUTWATCH_TEST_DATABASE_URL="postgresql://postgres@/postgres?host=$dir"
version=$("$PG15_BIN/psql" "$CUTWATCH_TEST_DATABASE_URL" -Atc 'SHOW server_version')
echo "pytest-pg15: ${TESTS[*]} on PostgreSQL $version (socket in $dir)"
# Of those, the tests that reach the database (--database-only, tests/conftest.py): the
# others prove nothing new here; nor does the API's /healthz latency during a leader's burst
# (the first pass measures it; the same queries run here in test_feed's burst). On both cores
# as `make pytest` runs, the timing-sensitive ones (marked serial) alone afterwards; both
# run, the status is the first failure's.
ARGS=(-q -p no:cacheprovider --database-only --deselect tests/api/test_leader_healthz.py)
status=0
"$PYTEST" "${ARGS[@]}" -n 2 --dist loadfile -m "not serial" "${TESTS[@]}" "$@" || status=$?
"$PYTEST" "${ARGS[@]}" -m serial "${TESTS[@]}" "$@" || status=$?
exit "$status"
