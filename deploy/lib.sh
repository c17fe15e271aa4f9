# Shared settings for the local-stack scripts. Sourced, not run.
# Ports come from the same CRM_* variables the services read, so the stack
# always starts where the services will look for it.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CRM_KAFKA_BOOTSTRAP="${CRM_KAFKA_BOOTSTRAP:-localhost:9092}"
CRM_REDIS_URL="${CRM_REDIS_URL:-redis://localhost:6379/0}"
# Jars are a cache (safe to delete, re-fetched); state is data (topics, AOF).
CRM_CACHE_DIR="${CRM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crm}"
CRM_STATE_DIR="${CRM_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/crm}"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$DEPLOY_DIR/kafka/pom.xml")"
KAFKA_LIBS="$CRM_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_HOST="${CRM_KAFKA_BOOTSTRAP%%,*}"; KAFKA_HOST="${KAFKA_HOST%:*}"
KAFKA_PORT="${CRM_KAFKA_BOOTSTRAP%%,*}"; KAFKA_PORT="${KAFKA_PORT##*:}"
KAFKA_CONTROLLER_PORT="${CRM_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HEAP_OPTS="${CRM_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_DIR="$CRM_STATE_DIR/kafka-$KAFKA_PORT"
# One node by default; deploy/kafka/cluster.sh sets these for each of its three.
KAFKA_NODE_ID="${CRM_KAFKA_NODE_ID:-1}"
KAFKA_VOTERS="${CRM_KAFKA_VOTERS:-1@127.0.0.1:$KAFKA_CONTROLLER_PORT}"
KAFKA_REPLICATION="${CRM_KAFKA_REPLICATION:-1}"
KAFKA_MIN_ISR="${CRM_KAFKA_MIN_ISR:-1}"

_redis_hostport="${CRM_REDIS_URL#*://}"; _redis_hostport="${_redis_hostport##*@}"; _redis_hostport="${_redis_hostport%%/*}"
REDIS_HOST="${_redis_hostport%:*}"
REDIS_PORT="${_redis_hostport##*:}"
[ "$REDIS_PORT" = "$_redis_hostport" ] && REDIS_PORT=6379
REDIS_DIR="$CRM_STATE_DIR/redis-$REDIS_PORT"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive FILE PATTERN: the pid in FILE runs and its command line matches PATTERN
# (a stale pid file from a killed session may name a pid since reused by another program).
pid_alive() {
  [ -f "$1" ] || return 1
  local pid; pid="$(cat "$1")"
  # /proc, not ps: ps cuts command lines at 80 columns when its output is a pipe.
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# Serialise concurrent starts/stops (two terminals, a test session and a demo).
with_lock() { mkdir -p "$CRM_STATE_DIR"; exec 9>"$CRM_STATE_DIR/$1.lock"; flock 9; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }
