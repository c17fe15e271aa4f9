#!/usr/bin/env bash
# The local infrastructure as one unit: stack.sh up | down | status
# `crm dev` calls this, then starts the services on top.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case "${1:-}" in
  up) "$DEPLOY_DIR/redis/redis.sh" start && "$DEPLOY_DIR/kafka/kafka.sh" start ;;
  down) "$DEPLOY_DIR/kafka/kafka.sh" stop; "$DEPLOY_DIR/redis/redis.sh" stop ;;
  status) rc=0; "$DEPLOY_DIR/kafka/kafka.sh" status || rc=$?; "$DEPLOY_DIR/redis/redis.sh" status || rc=$?; exit $rc ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
