#!/usr/bin/env bash
# Apache Kafka (KRaft, single node) for development and tests.
#   kafka.sh fetch | start | stop | status
# fetch: the broker and its runtime jars from Maven Central into $CRM_CACHE_DIR (once).
# start: formats storage on first start, runs the broker on loopback, waits until it serves.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PID_FILE="$KAFKA_DIR/kafka.pid"
CONF="$KAFKA_DIR/server.properties"
LOG_DIR="$KAFKA_DIR/logs"

fetch() {
  if [ -f "$KAFKA_LIBS/.complete" ]; then
    log "using cached Kafka $KAFKA_VERSION jars in $KAFKA_LIBS"
    return
  fi
  command -v mvn >/dev/null || die "mvn is required to fetch Kafka (apt-get install maven)"
  command -v java >/dev/null || die "java 17+ is required to run Kafka"
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mvn -B -q -f "$DEPLOY_DIR/kafka/pom.xml" dependency:copy-dependencies \
    -Dkafka.libs="$KAFKA_LIBS" >&2 || die "maven could not fetch Kafka $KAFKA_VERSION"
  # Marks a finished copy, so an interrupted fetch is redone rather than half-used.
  touch "$KAFKA_LIBS/.complete"
}

write_config() {
  mkdir -p "$KAFKA_DIR/data" "$LOG_DIR"
  cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_VOTERS
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data
auto.create.topics.enable=false
num.partitions=1
# One broker: every internal topic must live with replication factor 1,
# or transactions and consumer groups never become available. A cluster
# (deploy/kafka/cluster.sh) sets 3 and min ISR 2.
offsets.topic.replication.factor=$KAFKA_REPLICATION
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_ISR
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$KAFKA_MIN_ISR
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$KAFKA_MIN_ISR
# Tests create many short-lived groups; waiting for more members only slows them.
group.initial.rebalance.delay.ms=0
# A crashed test consumer should not hold its partitions for the default 45 s.
group.consumer.session.timeout.ms=10000
group.consumer.min.session.timeout.ms=1000
log.retention.check.interval.ms=300000
PROPS
}

start() {
  with_lock "kafka-$KAFKA_PORT"
  if pid_alive "$PID_FILE" kafka.Kafka; then
    log "already running (pid $(cat "$PID_FILE")) on $KAFKA_HOST:$KAFKA_PORT"
    return
  fi
  if port_open "$KAFKA_PORT"; then
    die "port $KAFKA_PORT is taken by a process this script did not start; stop it or point CRM_KAFKA_BOOTSTRAP elsewhere"
  fi
  fetch
  write_config
  local cp="$KAFKA_LIBS/*"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id="${CRM_KAFKA_CLUSTER_ID:-}"
    [ -n "$cluster_id" ] || cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    log "formatting KRaft storage (cluster $cluster_id)"
    java -cp "$cp" -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2.properties" \
      -Dkafka.logs.dir="$LOG_DIR" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$CONF" --ignore-formatted >&2
  fi
  log "starting Kafka $KAFKA_VERSION on $KAFKA_HOST:$KAFKA_PORT (heap: $KAFKA_HEAP_OPTS)"
  : > "$LOG_DIR/server.log"
  # setsid: the broker must outlive the shell (and the test session) that started it;
  # 9>&-: it must not inherit (and so hold forever) the start lock.
  # shellcheck disable=SC2086
  setsid nohup java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$cp" kafka.Kafka "$CONF" > "$LOG_DIR/stdout.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$PID_FILE"
  local deadline=$((SECONDS + 120))
  until grep -q "Kafka Server started" "$LOG_DIR/server.log" 2>/dev/null && port_open "$KAFKA_PORT"; do
    if ! pid_alive "$PID_FILE" kafka.Kafka; then
      tail -n 30 "$LOG_DIR/stdout.log" "$LOG_DIR/server.log" >&2 || true
      die "Kafka exited during start-up (logs in $LOG_DIR)"
    fi
    [ $SECONDS -lt $deadline ] || die "Kafka did not start within 120 s (logs in $LOG_DIR)"
    sleep 0.5
  done
  log "Kafka ready on $KAFKA_HOST:$KAFKA_PORT (pid $(cat "$PID_FILE"), data $KAFKA_DIR)"
}

stop() {
  with_lock "kafka-$KAFKA_PORT"
  if ! pid_alive "$PID_FILE" kafka.Kafka; then
    log "not running"; rm -f "$PID_FILE"; return
  fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid"
  # A controlled shutdown flushes logs; give it time before forcing.
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "forcing stop"; kill -KILL "$pid"; fi
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  if pid_alive "$PID_FILE" kafka.Kafka && port_open "$KAFKA_PORT"; then
    echo "kafka: running pid=$(cat "$PID_FILE") bootstrap=$KAFKA_HOST:$KAFKA_PORT version=$KAFKA_VERSION data=$KAFKA_DIR"
  elif port_open "$KAFKA_PORT"; then
    echo "kafka: port $KAFKA_PORT answers, but not a broker started by these scripts"
  else
    echo "kafka: stopped"; return 3
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
