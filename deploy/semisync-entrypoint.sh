#!/bin/bash
# semisync-entrypoint: the image's entry point (deploy/Dockerfile). Turns the container's
# environment (Kubernetes: deploy/k8s) into flags and execs the node, so that it runs as PID 1 and
# gets SIGTERM directly.
#
#   semisync-entrypoint master [EXTRA_FLAGS...]
#   semisync-entrypoint slave  [EXTRA_FLAGS...]
#   semisync-entrypoint COMMAND [ARGS...]     anything else is exec'ed as is (e.g. semisyncctl)
#
# Environment (all optional but POD_NAME for a slave):
#   POD_NAME         the pod's name; a slave's --id (e.g. semisync-slave-0), and the database name
#   POD_NAMESPACE    for the slave's advertised address
#   GRPC_PORT        gRPC port (master 50051, slave 50052)
#   HTTP_PORT        the HTTP gateway's port (master 8080, slave 8081), when the binary has one
#   BIND_ADDRESS     address the gRPC (and HTTP) servers listen on (default: all, 0.0.0.0)
#   MASTER_ADDRESS   a slave's master (default semisync-master:50051)
#   SLAVE_SERVICE    the slaves' headless Service (default semisync-slave), for --advertise_address
#   DB_HOST DB_PORT  MySQL/MariaDB server; empty DB_HOST: the embedded SQLite in the data dir
#   DB_USER DB_PASSWORD
#   DB_NAME          database (default: POD_NAME with '-' as '_', e.g. semisync_slave_0)
#   SEMISYNC_FLAGS_DIR  flag files <role>.flags (the ConfigMap; default /etc/semisync)
#   SEMISYNC_DATA_DIR   data dir: binlog or relay log, SQLite (the PVC; default /var/lib/semisync)
#   SEMISYNC_BIN_DIR    where the binaries are (default /usr/local/bin)
# The database password goes to the node through a flag file in $TMPDIR (mode 600), not argv.
set -euo pipefail

BIN_DIR=${SEMISYNC_BIN_DIR:-/usr/local/bin}
FLAGS_DIR=${SEMISYNC_FLAGS_DIR:-/etc/semisync}
DATA_DIR=${SEMISYNC_DATA_DIR:-/var/lib/semisync}

die() { echo "semisync-entrypoint: $*" >&2; exit 1; }

# Writes --db=... for database $1 to a private flag file and prints its --flagfile= flag.
db_flagfile() {
  local name=$1 file
  [[ $name =~ ^[A-Za-z0-9_]{1,64}$ ]] || die "database name '$name' must match [A-Za-z0-9_]{1,64}"
  [[ ${DB_PASSWORD:-} != *"'"* ]] || die "DB_PASSWORD must not contain a single quote"
  file=$(mktemp "${TMPDIR:-/tmp}/semisync-db.XXXXXX")
  chmod 600 "$file"
  printf -- "--db=mysql://host=%s port=%s db=%s user=%s password='%s'\n" \
    "$DB_HOST" "${DB_PORT:-3306}" "$name" "${DB_USER:-semisync}" "${DB_PASSWORD:-}" >"$file"
  echo "--flagfile=$file"
}

# Flags common to both roles: role flag file, data dir, logging, database, addresses.
common_flags() {
  local role=$1 binary=$2
  flags=(--data_dir="$DATA_DIR" --logtostderr=true)
  if [[ -f $FLAGS_DIR/$role.flags ]]; then
    flags+=(--flagfile="$FLAGS_DIR/$role.flags")
  fi
  if [[ -n ${DB_HOST:-} ]]; then
    local db_name=${DB_NAME:-${POD_NAME:-semisync_$role}}
    flags+=("$(db_flagfile "${db_name//-/_}")")
  fi
  if [[ -n ${BIND_ADDRESS:-} ]]; then
    flags+=(--bind_address="$BIND_ADDRESS")
  fi
  # The HTTP gateway's flags, once the binary has them (--helpfull exits with 1).
  if [[ -n ${HTTP_PORT:-} || -n ${BIND_ADDRESS:-} ]]; then
    local help
    help=$("$BIN_DIR/$binary" --helpfull 2>&1 || true)
    if [[ -n ${HTTP_PORT:-} && $help == *"-http_port ("* ]]; then
      flags+=(--http_port="$HTTP_PORT")
    fi
    if [[ -n ${BIND_ADDRESS:-} && $help == *"-http_bind_address ("* ]]; then
      flags+=(--http_bind_address="$BIND_ADDRESS")
    fi
  fi
}

role=${1:-master}
[[ $# -gt 0 ]] && shift
case "$role" in
  master)
    common_flags master semisync_master
    exec "$BIN_DIR/semisync_master" --grpc_port="${GRPC_PORT:-50051}" "${flags[@]}" "$@"
    ;;
  slave)
    [[ -n ${POD_NAME:-} ]] || die "POD_NAME must be set: it is the slave's id"
    common_flags slave semisync_slave
    port=${GRPC_PORT:-50052}
    advertise="$POD_NAME.${SLAVE_SERVICE:-semisync-slave}"
    [[ -n ${POD_NAMESPACE:-} ]] && advertise="$advertise.$POD_NAMESPACE.svc"
    exec "$BIN_DIR/semisync_slave" --id="$POD_NAME" \
      --master="${MASTER_ADDRESS:-semisync-master:50051}" --grpc_port="$port" \
      --advertise_address="$advertise:$port" "${flags[@]}" "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
