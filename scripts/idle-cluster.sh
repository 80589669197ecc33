#!/usr/bin/env bash
# Five real ballot nodes left idle for a while: how many elections and leader changes happened?
# Usage: scripts/idle-cluster.sh SECONDS BASE_PORT [ballot node flags…]
#   scripts/idle-cluster.sh 600 27000 --algorithm raft
#   scripts/idle-cluster.sh 240 26000 --algorithm raft --election-timeout 500-1000 --heartbeat 100
# Prints the load average at the start and end, then each node's /status and its election counters.
# Every node is stopped (SIGTERM) and its data dir removed when the script ends, even on Ctrl-C.
set -euo pipefail
seconds=${1:?seconds}; base=${2:?base port}; shift 2
cd "$(dirname "$0")/.."
data=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT INT TERM
peers=$(for i in 1 2 3 4 5; do printf '%s=127.0.0.1:%s,' "$i" $((base + i)); done); peers=${peers%,}
for i in 1 2 3 4 5; do
  node dist/cli/main.js node --id "$i" --listen "127.0.0.1:$((base + i))" --http "127.0.0.1:$((base + 100 + i))" \
    --peers "$peers" --data-dir "$data/n$i" "$@" 2> "$data/n$i.log" &
  pids+=($!)
done
echo "started $(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg), for ${seconds} s: $*"
sleep "$seconds"
echo "ended $(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg)"
for i in 1 2 3 4 5; do
  status=$(curl -s -m 5 "127.0.0.1:$((base + 100 + i))/status" || echo '{}')
  counters=$(curl -s -m 5 "127.0.0.1:$((base + 100 + i))/metrics" | grep -E '^ballot_(elections_started_total|leader_changes_total) ' | tr '\n' ' ' || true)
  echo "$status $counters"
done
