#!/usr/bin/env bash
# A throwaway PostgreSQL server for Lantern's PostgreSQL target (README "Running on PostgreSQL").
#
#   dagster_project/scripts/postgres.sh install          apt-get install Debian's `postgresql` when absent (root)
#   dagster_project/scripts/postgres.sh start DIR [PORT] initialise a cluster in DIR (once) and start it on
#                                        127.0.0.1:PORT (default: a free port); prints the DSN
#   dagster_project/scripts/postgres.sh stop DIR         stop the server of DIR
#
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (created by
# the package) and every server command runs as that user. It listens on 127.0.0.1 only; the
# superuser `postgres` has the password PGPASSWORD (default `lantern`): a throwaway local server
# for tests and trials, not a production setup.
set -euo pipefail

pg_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

install() {
  if [ -n "$(pg_bindir)" ]; then exit 0; fi
  if [ "$(id -u)" != "0" ]; then
    echo "PostgreSQL is missing and this is not root: install Debian's postgresql package (apt-get install postgresql), or set PG_BINDIR" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # (the package's own cluster, if it creates one, is not used)
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  [ -n "$(pg_bindir)" ] || { echo "postgresql installed but initdb not found" >&2; exit 1; }
}

as_owner() {  # run a command as the cluster's owner
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir port bin
  dir=$(realpath -m "$1")
  port="${2:-$(free_port)}"
  bin=$(pg_bindir)
  [ -n "$bin" ] || { echo "PostgreSQL is not installed: run dagster_project/scripts/postgres.sh install" >&2; exit 1; }
  mkdir -p "$dir"
  if [ "$(id -u)" = "0" ]; then
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    # the owner must be able to reach DIR through its parents
    local p="$dir"
    while [ "$p" != "/" ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
  fi
  local password="${PGPASSWORD:-lantern}"
  if [ ! -f "$dir/pgdata/PG_VERSION" ]; then
    printf '%s\n' "$password" >"$dir/pwfile"
    [ "$(id -u)" = "0" ] && chown postgres:postgres "$dir/pwfile"
    as_owner "$bin/initdb" -D "$dir/pgdata" -U postgres -A scram-sha-256 --pwfile="$dir/pwfile" \
      -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
  fi
  as_owner "$bin/pg_ctl" -D "$dir/pgdata" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c timezone=UTC" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  export PGPASSWORD="$password"
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtA \
    -c "select 1 from pg_database where datname = 'lantern'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres lantern
  echo "postgresql://postgres:$password@127.0.0.1:$port/lantern"
}

stop() {
  local dir bin
  dir=$(realpath -m "$1")
  bin=$(pg_bindir)
  [ -f "$dir/pgdata/postmaster.pid" ] || exit 0
  as_owner "$bin/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null
}

case "${1:-}" in
  install) install ;;
  start) shift; [ $# -ge 1 ] || { echo "usage: $0 start DIR [PORT]" >&2; exit 2; }; start "$@" ;;
  stop) shift; [ $# -ge 1 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$1" ;;
  *) echo "usage: $0 install | start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
