#!/usr/bin/env bash
# A private MariaDB server for tests, owned by the test run (CTest fixture "mariadb").
#
#   test_mariadb.sh start DIR   initialise DIR/data if needed, start mariadbd on a free loopback
#                               port, create user semisync/semisync (ALL PRIVILEGES), write DIR/port
#   test_mariadb.sh stop DIR    stop the server named by DIR/pid
#
# Layout of DIR: data/ (datadir), sock (unix socket), pid, port, mariadb.log (server output),
# install.log (mariadb-install-db output).
#
# InnoDB runs with innodb_flush_log_at_trx_commit=2 ($INNODB_FLUSH_LOG_AT_TRX_COMMIT overrides), the
# setting docs/operations.md recommends for a semisync node's database: the binlog / relay log is
# the source of truth, so a redo-log fsync per commit would be a needless second fsync; before
# purging that log, Storage::SyncToDisk waits for InnoDB's flushed LSN.
#
# $SEMISYNC_TEST_MARIADB_PORT, when set, is tried first. Installs nothing (scripts/install_deps.sh does). Idempotent: `start` succeeds at once when DIR/pid
# names a live mariadbd serving DIR/data; `stop` succeeds when nothing runs. Processes are only ever
# signalled by the pid in DIR/pid, after checking that it is a mariadbd started on DIR/data.
set -euo pipefail

MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}
START_DEADLINE_S=${SEMISYNC_MARIADB_START_DEADLINE_S:-60}
STOP_DEADLINE_S=${SEMISYNC_MARIADB_STOP_DEADLINE_S:-60}
PORT_ATTEMPTS=5

log() { echo "[test_mariadb $(date +%H:%M:%S)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }

[[ $# -eq 2 ]] || usage
CMD=$1
DIR=$(realpath -m "$2")
DATA=$DIR/data
SOCK=$DIR/sock
PIDF=$DIR/pid
PORTF=$DIR/port
LOGF=$DIR/mariadb.log

root_cli() {  # root over the unix socket (root has no password: normal auth, loopback-only server)
  mariadb --no-defaults --protocol=SOCKET -S "$SOCK" -uroot "$@"
}

ping_server() {
  mariadb-admin --no-defaults --protocol=SOCKET -S "$SOCK" -uroot --connect-timeout=2 ping \
    >/dev/null 2>&1
}

# is_our_mariadbd PID: PID is alive and is a mariadbd started on $DATA.
is_our_mariadbd() {
  local pid=$1 cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *mariadbd* || $cmd == *mysqld* ]] || return 1
  [[ $cmd == *"--datadir=$DATA "* ]]
}

pid_from_file() {
  [[ -f $PIDF ]] && tr -dc '0-9' < "$PIDF" || true
}

free_port() {
  /usr/bin/python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

write_port_file() {
  local port
  port=$(root_cli -N -B -e 'SELECT @@port') || die "cannot read @@port"
  printf '%s\n' "$port" > "$PORTF.tmp"
  mv -f "$PORTF.tmp" "$PORTF"
}

create_users() {
  root_cli <<'SQL' || die "cannot create user semisync"
CREATE USER IF NOT EXISTS 'semisync'@'127.0.0.1' IDENTIFIED BY 'semisync';
CREATE USER IF NOT EXISTS 'semisync'@'localhost' IDENTIFIED BY 'semisync';
GRANT ALL PRIVILEGES ON *.* TO 'semisync'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'semisync'@'localhost';
SQL
}

install_db() {
  if [[ -d $DATA/mysql ]]; then
    return 0
  fi
  rm -rf "$DATA"  # only a partial initialisation of our own data dir can be here
  mkdir -p "$DATA"
  log "initialising $DATA"
  if ! mariadb-install-db --no-defaults --datadir="$DATA" --user=root \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      >"$DIR/install.log" 2>&1; then
    cat "$DIR/install.log" >&2
    rm -rf "$DATA"
    die "mariadb-install-db failed (see $DIR/install.log)"
  fi
}

# try_start PORT: 0 when the server answers, 1 when it exited (e.g. port taken), dies on timeout.
try_start() {
  local port=$1 pid deadline
  rm -f "$PIDF" "$PORTF"
  log "starting mariadbd on 127.0.0.1:$port (log $LOGF)"
  # setsid + nohup + redirections: detached from the caller (ctest waits for our pipes to close).
  setsid nohup "$MARIADBD" --no-defaults --datadir="$DATA" --socket="$SOCK" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$PIDF" --user=root --skip-name-resolve \
    --innodb-buffer-pool-size=64M --max-connections=500 \
    --innodb-flush-log-at-trx-commit="${INNODB_FLUSH_LOG_AT_TRX_COMMIT:-2}" \
    >>"$LOGF" 2>&1 </dev/null &
  pid=$!
  deadline=$((SECONDS + START_DEADLINE_S))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      return 1
    fi
    if ping_server; then
      return 0
    fi
    sleep 0.2
  done
  log "mariadbd did not answer within ${START_DEADLINE_S}s; tail of $LOGF:"
  tail -n 30 "$LOGF" >&2 || true
  kill -TERM "$pid" 2>/dev/null || true
  die "start timed out"
}

do_start() {
  mkdir -p "$DIR"
  if ((${#SOCK} > 100)); then
    die "socket path $SOCK is too long for a unix socket (${#SOCK} > 100 chars); use a shorter DIR"
  fi
  local pid
  pid=$(pid_from_file)
  if [[ -n $pid ]] && is_our_mariadbd "$pid"; then
    if ping_server; then
      create_users
      write_port_file
      log "already running (pid $pid, port $(cat "$PORTF"))"
      return 0
    fi
    die "mariadbd pid $pid on $DATA is alive but does not answer on $SOCK"
  fi
  install_db
  local attempt port
  for attempt in $(seq 1 "$PORT_ATTEMPTS"); do
    if [[ $attempt == 1 && -n ${SEMISYNC_TEST_MARIADB_PORT:-} ]]; then
      port=$SEMISYNC_TEST_MARIADB_PORT  # a preferred port; a taken one is retried like any other
    else
      port=$(free_port) || die "cannot pick a free port (python3)"
    fi
    if try_start "$port"; then
      create_users
      write_port_file
      log "up: pid $(pid_from_file), port $(cat "$PORTF"), socket $SOCK"
      return 0
    fi
    if tail -n 20 "$LOGF" | grep -qiE "address already in use|can't start server.*bind"; then
      log "port $port taken, retrying ($attempt/$PORT_ATTEMPTS)"
      continue
    fi
    log "mariadbd exited during start; tail of $LOGF:"
    tail -n 30 "$LOGF" >&2 || true
    die "mariadbd failed to start"
  done
  die "no free port after $PORT_ATTEMPTS attempts"
}

do_stop() {
  local pid deadline
  pid=$(pid_from_file)
  if [[ -z $pid ]]; then
    log "no pid file in $DIR: nothing to stop"
    rm -f "$PORTF"
    return 0
  fi
  if ! is_our_mariadbd "$pid"; then
    log "stale pid file ($pid is not a mariadbd on $DATA); removing it"
    rm -f "$PIDF" "$PORTF"
    return 0
  fi
  log "stopping mariadbd pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_DEADLINE_S))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after ${STOP_DEADLINE_S}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$PIDF" "$PORTF"
  log "stopped"
}

case "$CMD" in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
