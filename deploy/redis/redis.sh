#!/usr/bin/env bash
# Redis for development and tests: Debian's redis-server on loopback with its own
# port and data directory, AOF on.   redis.sh install | start | stop | status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PID_FILE="$REDIS_DIR/redis.pid"

install() {
  if command -v redis-server >/dev/null; then return; fi
  log "installing Debian's redis-server"
  export DEBIAN_FRONTEND=noninteractive
  # A bare machine may have no package lists yet.
  as_root apt-get install -y -q redis-server >&2 \
    || { as_root apt-get update -q >&2 && as_root apt-get install -y -q redis-server >&2; } \
    || die "could not install redis-server"
}

ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start() {
  with_lock redis
  install
  if pid_alive "$PID_FILE" redis-server; then
    log "already running (pid $(cat "$PID_FILE")) on $REDIS_HOST:$REDIS_PORT"
    return
  fi
  if port_open "$REDIS_PORT"; then
    die "port $REDIS_PORT is taken by a process this script did not start; stop it or point CRM_REDIS_URL elsewhere"
  fi
  mkdir -p "$REDIS_DIR"
  log "starting redis-server on $REDIS_HOST:$REDIS_PORT (data $REDIS_DIR, AOF on)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec \
    --daemonize yes --pidfile "$PID_FILE" --logfile "$REDIS_DIR/redis.log" \
    --protected-mode yes >&2 9>&-  # the daemon must not inherit the start lock
  local deadline=$((SECONDS + 30))
  until ping; do
    [ $SECONDS -lt $deadline ] || die "redis did not answer within 30 s (log $REDIS_DIR/redis.log)"
    sleep 0.2
  done
  log "Redis ready on $REDIS_HOST:$REDIS_PORT (pid $(cat "$PID_FILE"))"
}

stop() {
  with_lock redis
  if ! pid_alive "$PID_FILE" redis-server; then log "not running"; rm -f "$PID_FILE"; return; fi
  log "stopping redis (pid $(cat "$PID_FILE"))"
  # SHUTDOWN rewrites nothing but flushes the AOF before exiting.
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || kill -TERM "$(cat "$PID_FILE")"
  for _ in $(seq 1 50); do pid_alive "$PID_FILE" redis-server || break; sleep 0.2; done
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  if pid_alive "$PID_FILE" redis-server && ping; then
    echo "redis: running pid=$(cat "$PID_FILE") url=$CRM_REDIS_URL data=$REDIS_DIR"
  elif ping; then
    echo "redis: port $REDIS_PORT answers, but not a server started by these scripts"
  else
    echo "redis: stopped"; return 3
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
