#!/usr/bin/env bash
# Prometheus for development: Debian's prometheus package (promtool comes with it) on
# loopback, with the rules of deploy/prometheus/rules loaded.
#   prometheus.sh install | start CONFIG | stop | status
# `crm dev up --monitoring` writes CONFIG (its scrape targets are the workers, the API and
# `crm lag --serve`) and calls start.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PROMETHEUS_PORT="${CRM_PROMETHEUS_PORT:-9090}"
PROMETHEUS_DIR="$CRM_STATE_DIR/prometheus-$PROMETHEUS_PORT"
PID_FILE="$PROMETHEUS_DIR/prometheus.pid"

install() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return; fi
  log "installing Debian's prometheus (with promtool)"
  export DEBIAN_FRONTEND=noninteractive
  # --no-install-recommends: not the node exporter and friends.
  as_root apt-get install -y -q --no-install-recommends prometheus >&2 \
    || { as_root apt-get update -q >&2 && as_root apt-get install -y -q --no-install-recommends prometheus >&2; } \
    || die "could not install prometheus"
}

ready() { curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; }

start() {
  local config="${1:-}"
  [ -n "$config" ] && [ -f "$config" ] || die "usage: $0 start CONFIG (a prometheus.yml)"
  with_lock prometheus
  install
  if pid_alive "$PID_FILE" prometheus; then
    log "already running (pid $(cat "$PID_FILE")) on 127.0.0.1:$PROMETHEUS_PORT; reloading its config"
    kill -HUP "$(cat "$PID_FILE")"
    return
  fi
  if port_open "$PROMETHEUS_PORT"; then
    die "port $PROMETHEUS_PORT is taken by a process this script did not start; set CRM_PROMETHEUS_PORT"
  fi
  promtool check config "$config" >&2 || die "invalid config $config"
  mkdir -p "$PROMETHEUS_DIR/data"
  log "starting prometheus on 127.0.0.1:$PROMETHEUS_PORT (config $config, data $PROMETHEUS_DIR)"
  setsid prometheus --config.file="$config" --storage.tsdb.path="$PROMETHEUS_DIR/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --storage.tsdb.retention.time=7d \
    >"$PROMETHEUS_DIR/prometheus.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$PID_FILE"
  local deadline=$((SECONDS + 30))
  until ready; do
    pid_alive "$PID_FILE" prometheus || die "prometheus exited (log $PROMETHEUS_DIR/prometheus.log)"
    [ $SECONDS -lt $deadline ] || die "prometheus not ready within 30 s (log $PROMETHEUS_DIR/prometheus.log)"
    sleep 0.3
  done
  log "Prometheus ready: http://127.0.0.1:$PROMETHEUS_PORT (pid $(cat "$PID_FILE"))"
}

stop() {
  with_lock prometheus
  if ! pid_alive "$PID_FILE" prometheus; then log "not running"; rm -f "$PID_FILE"; return; fi
  log "stopping prometheus (pid $(cat "$PID_FILE"))"
  kill -TERM "$(cat "$PID_FILE")"
  for _ in $(seq 1 50); do pid_alive "$PID_FILE" prometheus || break; sleep 0.2; done
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  if pid_alive "$PID_FILE" prometheus && ready; then
    echo "prometheus: running pid=$(cat "$PID_FILE") url=http://127.0.0.1:$PROMETHEUS_PORT data=$PROMETHEUS_DIR"
  else
    echo "prometheus: stopped"; return 3
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start CONFIG|stop|status" >&2; exit 2 ;;
esac
