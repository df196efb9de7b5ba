#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the server benchmark (`graveyard-bench server`), on loopback.
#
#   scripts/postgres.sh install                     install postgresql-15 if its binaries are absent
#   scripts/postgres.sh start DIR PORT [MAX_CONN]   install if needed, initdb a fresh cluster in
#                                                   DIR/data, serve it on 127.0.0.1:PORT
#   scripts/postgres.sh stop DIR                    stop the cluster of DIR (no error if none runs)
#
# Safe to run again: install does nothing when the binaries are there, start refuses a DIR that
# already holds a cluster, stop of a stopped cluster succeeds. DIR must exist; removing it is the
# caller's job. The cluster keeps PostgreSQL's durable defaults (fsync=on, synchronous_commit=on,
# full_page_writes=on, wal_sync_method=fdatasync on Linux): only where it listens, its socket
# directory and max_connections are set. Authentication is `trust`, which is safe only because
# it listens on 127.0.0.1 alone.
#
# initdb and postgres refuse to run as root: as root, both run as the `postgres` user (created
# by the Debian package) and DIR is handed to that user; otherwise they run as the caller.
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
PG_USER=postgres

die() { echo "postgres.sh: $*" >&2; exit 1; }

have_binaries() { [[ -x $BIN/initdb && -x $BIN/pg_ctl && -x $BIN/postgres ]]; }

install() {
  have_binaries && return 0
  [[ $(id -u) == 0 ]] || die "PostgreSQL 15 is not installed and installing it needs root: apt-get install postgresql-15"
  command -v apt-get >/dev/null || die "PostgreSQL 15 is not installed and there is no apt-get to install it"
  echo "postgres.sh: installing postgresql-15 with apt-get" >&2
  # --no-install-recommends: the server alone, not the docs and tools it recommends.
  apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >&2 \
    || die "apt-get install postgresql-15 failed"
  have_binaries || die "postgresql-15 is installed but $BIN/{initdb,pg_ctl,postgres} are missing"
}

# Runs a PostgreSQL binary as the user allowed to own a cluster.
as_owner() {
  if [[ $(id -u) == 0 ]]; then
    id "$PG_USER" >/dev/null 2>&1 || die "no '$PG_USER' user to run PostgreSQL as (the Debian package creates it)"
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

start() {
  local dir=$1 port=$2 max_connections=${3:-100}
  [[ -d $dir ]] || die "no directory $dir"
  [[ $port =~ ^[0-9]+$ ]] || die "bad port '$port'"
  [[ $max_connections =~ ^[0-9]+$ ]] || die "bad max_connections '$max_connections'"
  [[ -e $dir/data ]] && die "$dir/data already exists: start wants a fresh directory"
  install
  dir=$(cd "$dir" && pwd)
  if [[ $(id -u) == 0 ]]; then
    chown "$PG_USER" "$dir"
    chmod 700 "$dir"
  fi
  # --no-sync: initdb does not fsync the files of the new cluster, which only speeds up its own
  # creation (a crash now would lose a throwaway cluster); the server's durability is untouched.
  as_owner "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=$max_connections" \
    start >"$dir/pg_ctl.log" 2>&1 \
    || die "the server did not start: $(tail -n 5 "$dir/postgres.log" 2>/dev/null)"
  echo "postgres.sh: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir/data" >&2
}

stop() {
  local dir=$1
  [[ -f $dir/data/postmaster.pid ]] || return 0
  # fast: roll back open sessions and shut down cleanly, without waiting for clients to leave.
  as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 \
    || die "pg_ctl stop failed for $dir/data"
}

case ${1:-} in
  install) install ;;
  start) [[ $# -ge 3 ]] || die "usage: $0 start DIR PORT [MAX_CONNECTIONS]"; start "$2" "$3" "${4:-100}" ;;
  stop) [[ $# -ge 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 install | start DIR PORT [MAX_CONNECTIONS] | stop DIR" ;;
esac
