# Start and stop a throwaway PostgreSQL server in a temporary directory.
# Sets REVLEDGER_TEST_POSTGRES_URL for the tests.
#
#   source .ci/postgres.sh
#   start_postgres          # initdb + pg_ctl start, loopback only, a free port
#   ...                     # REVLEDGER_TEST_POSTGRES_URL=postgresql://revledger@127.0.0.1:PORT/revledger_test
#   stop_postgres           # stop the server and delete its directory
#
# PG_PORT chooses the port (default: a free one). Installs the Debian package
# `postgresql` when no server binaries are found.

pg_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  return 1
}

pg_free_port() {
  # Ask the kernel for a free loopback port; fall back to a fixed one.
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo 55432
}

start_postgres() {
  local bin
  if ! bin=$(pg_bin); then
    echo "installing PostgreSQL (Debian package postgresql)"
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
    else
      (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
    fi
    bin=$(pg_bin) || { echo "PostgreSQL could not be installed" >&2; return 1; }
  fi
  PG_BIN=$bin
  PG_RUN=()
  PG_TMP=$(mktemp -d /tmp/revledger-pg.XXXXXX) || return 1
  chmod 755 "$PG_TMP"
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the server as an unprivileged user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres || return 1
    chown postgres "$PG_TMP"
    if command -v runuser >/dev/null 2>&1; then
      PG_RUN=(runuser -u postgres --)
    else
      PG_RUN=(setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups --)
    fi
  fi
  PG_PORT=${PG_PORT:-$(pg_free_port)}
  if ! "${PG_RUN[@]}" "$bin/initdb" -D "$PG_TMP/data" -U revledger --auth=trust --encoding=UTF8 --no-locale \
      >"$PG_TMP/initdb.log" 2>&1; then
    echo "initdb failed:" >&2; cat "$PG_TMP/initdb.log" >&2
    return 1
  fi
  # Loopback only, sockets in the temporary directory, no fsync: a throwaway server.
  if ! "${PG_RUN[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_TMP -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
    echo "PostgreSQL did not start:" >&2; cat "$PG_TMP/log" >&2
    return 1
  fi
  if ! "${PG_RUN[@]}" "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U revledger revledger_test; then
    echo "createdb failed" >&2
    return 1
  fi
  export REVLEDGER_TEST_POSTGRES_URL="postgresql://revledger@127.0.0.1:$PG_PORT/revledger_test"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running at $REVLEDGER_TEST_POSTGRES_URL"
}

stop_postgres() {
  [ -n "${PG_TMP:-}" ] || return 0
  if [ -f "$PG_TMP/data/postmaster.pid" ]; then
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_TMP"
  PG_TMP=
}
