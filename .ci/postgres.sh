# Start and stop a throwaway PostgreSQL server in a temporary directory.
# Sets REVLEDGER_TEST_POSTGRES_URL for the tests.

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
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
    bin=$(pg_bin) || { echo "PostgreSQL could not be installed"; return 1; }
  fi
  PG_TMP=$(mktemp -d /tmp/revledger-pg.XXXXXX)
  chmod 755 "$PG_TMP"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the server as an unprivileged user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_TMP"
    run=(runuser -u postgres --)
  fi
  PG_PORT=${PG_PORT:-55432}
  "${run[@]}" "$bin/initdb" -D "$PG_TMP/data" -U revledger --auth=trust >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_TMP -c max_connections=200 -c fsync=off" start >/dev/null
  "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U revledger revledger_test
  export REVLEDGER_TEST_POSTGRES_URL="postgresql://revledger@127.0.0.1:$PG_PORT/revledger_test"
  PG_RUN=("${run[@]}")
  PG_BIN=$bin
  echo "PostgreSQL running at $REVLEDGER_TEST_POSTGRES_URL"
}

stop_postgres() {
  [ -n "${PG_TMP:-}" ] || return 0
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
}
