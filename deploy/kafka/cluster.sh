#!/usr/bin/env bash
# Three Kafka brokers (KRaft, each broker+controller) on loopback, for the soak and for
# trying replication: replication factor 3 and min ISR 2 for the internal topics and as
# the default for new topics (`crm topics create` with CRM_KAFKA_REPLICATION_FACTOR=3).
#   cluster.sh start | stop | status | stop-node N | start-node N     (N = 1, 2, 3)
# Ports from CRM_KAFKA_BOOTSTRAP's first port P: brokers on P, P+2, P+4, their
# controllers on P+1, P+3, P+5. Each node is deploy/kafka/kafka.sh with its own port,
# node id and data directory; heaps default to -Xms128m -Xmx256m each.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

BASE_PORT="$KAFKA_PORT"
NODES=(1 2 3)
node_port() { echo $((BASE_PORT + 2 * ($1 - 1))); }
VOTERS="1@127.0.0.1:$((BASE_PORT + 1)),2@127.0.0.1:$((BASE_PORT + 3)),3@127.0.0.1:$((BASE_PORT + 5))"
ID_FILE="$CRM_STATE_DIR/kafka-cluster-$BASE_PORT.id"

node() {  # node N ACTION: kafka.sh ACTION as node N
  local n="$1" port; port="$(node_port "$1")"
  CRM_KAFKA_BOOTSTRAP="$KAFKA_HOST:$port" CRM_KAFKA_CONTROLLER_PORT="$((port + 1))" \
    CRM_KAFKA_NODE_ID="$n" CRM_KAFKA_VOTERS="$VOTERS" \
    CRM_KAFKA_REPLICATION=3 CRM_KAFKA_MIN_ISR=2 CRM_KAFKA_CLUSTER_ID="$(cluster_id)" \
    CRM_KAFKA_HEAP_OPTS="${CRM_KAFKA_HEAP_OPTS:--Xms128m -Xmx256m}" \
    "$DEPLOY_DIR/kafka/kafka.sh" "$2"
}

cluster_id() {
  # One id for the three nodes' storage, chosen once.
  if [ ! -s "$ID_FILE" ]; then
    mkdir -p "$CRM_STATE_DIR"
    "$DEPLOY_DIR/kafka/kafka.sh" fetch
    java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 > "$ID_FILE"
  fi
  cat "$ID_FILE"
}

start() {
  cluster_id >/dev/null
  # In parallel: no node reports "started" before a quorum of controllers is up.
  local pids=()
  for n in "${NODES[@]}"; do node "$n" start & pids+=($!); done
  local failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || die "a node did not start (logs in $CRM_STATE_DIR/kafka-*/logs)"
  log "cluster ready: $(bootstrap)"
}

bootstrap() {
  local out=() n
  for n in "${NODES[@]}"; do out+=("$KAFKA_HOST:$(node_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

stop() { for n in 3 2 1; do node "$n" stop; done; }
status() { local code=0 n; for n in "${NODES[@]}"; do node "$n" status || code=$?; done; return $code; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  bootstrap) bootstrap ;;
  stop-node) node "${2:?node 1-3}" stop ;;
  start-node) node "${2:?node 1-3}" start ;;
  *) echo "usage: $0 start|stop|status|bootstrap|stop-node N|start-node N" >&2; exit 2 ;;
esac
