#!/usr/bin/env bash
# Local 3-node Elasticsearch cluster: infra/local/es-cluster.sh {start|stop|status|urls|kill NODE}
#
# Why: an index with a replica, a node lost under load and a new master elected are what a
# production cluster sees; a single node cannot show them. Three master-eligible data nodes (a
# quorum of two survives the loss of any one) on 127.0.0.1, each an ordinary instance of
# infra/local/elasticsearch.sh (own dir, data and logs, keyed by its HTTP port) joined through
# discovery.seed_hosts. Heaps are small (512m each by default): three nodes cost ~2.5 GB of RAM.
#
# Knobs (environment):
#   TS_LOCAL_ES_CLUSTER_PORT   HTTP port of node 1; nodes use PORT, PORT+1, PORT+2   (default 9420)
#                              and transport ports PORT+10, PORT+11, PORT+12 (outside 9300-9399,
#                              the range single nodes pick from)
#   TS_LOCAL_ES_CLUSTER_NODES  number of nodes                                       (default 3)
#   TS_LOCAL_ES_HEAP           heap of each node                                     (default 512m)
#   TS_LOCAL_ES_TIMEOUT        seconds to wait for the cluster to be green           (default 300)
#   TS_LOCAL_ES_WIPE           1 = delete every node's data before start             (default 0)
# `kill N` (or TS_LOCAL_ES_NODE=N) sends SIGKILL to node N (1-based): what a crashed machine looks like to the others.
set -euo pipefail
# shellcheck source=infra/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BASE="${TS_LOCAL_ES_CLUSTER_PORT:-9420}"
NODES="${TS_LOCAL_ES_CLUSTER_NODES:-3}"
export TS_LOCAL_ES_HEAP="${TS_LOCAL_ES_HEAP:-512m}"
TIMEOUT="${TS_LOCAL_ES_TIMEOUT:-300}"
export TS_LOCAL_ES_TIMEOUT="$TIMEOUT"  # each member's own wait for its HTTP port
NAME="trustscope-cluster-$BASE"

http_port() { echo $((BASE + $1 - 1)); }
transport_port() { echo $((BASE + 10 + $1 - 1)); }

seeds() {
    local i out=()
    for ((i = 1; i <= NODES; i++)); do out+=("127.0.0.1:$(transport_port "$i")"); done
    (IFS=,; echo "${out[*]}")
}

masters() {
    local i out=()
    for ((i = 1; i <= NODES; i++)); do out+=("ts-local-$(http_port "$i")"); done
    (IFS=,; echo "${out[*]}")
}

# node ACTION N: run elasticsearch.sh ACTION for member N.
node() {
    TS_LOCAL_ES_PORT="$(http_port "$2")" TS_LOCAL_ES_TRANSPORT_PORT="$(transport_port "$2")" \
        TS_LOCAL_ES_CLUSTER_NAME="$NAME" TS_LOCAL_ES_SEED_HOSTS="$(seeds)" \
        TS_LOCAL_ES_INITIAL_MASTERS="$(masters)" bash "$HERE/elasticsearch.sh" "$1"
}

cluster_health() {
    ts_http_get "http://127.0.0.1:$BASE/_cluster/health?wait_for_nodes=$NODES&wait_for_status=green&timeout=2s" 5 2>/dev/null
}

cmd_start() {
    local i t0=$SECONDS pids=()
    for ((i = 1; i <= NODES; i++)); do
        if ts_port_in_use "$(transport_port "$i")" && ! node status "$i" >/dev/null 2>&1; then
            ts_die "transport port $(transport_port "$i") is taken; set TS_LOCAL_ES_CLUSTER_PORT to another base"
        fi
    done
    # Started together: no node can form the cluster alone (the first election needs a quorum).
    for ((i = 1; i <= NODES; i++)); do
        node start "$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || ts_die "a node of $NAME did not start (see its logs above)"; done
    while ! cluster_health | grep -q '"status":"green"'; do
        ((SECONDS - t0 > TIMEOUT)) && ts_die "$NAME: not $NODES nodes green within ${TIMEOUT}s"
        sleep 1
    done
    ts_log "$NAME ready: $NODES nodes on $(urls) after $((SECONDS - t0))s"
}

cmd_stop() {
    local i
    for ((i = 1; i <= NODES; i++)); do node stop "$i" & done
    wait
}

cmd_status() {
    local i rc=0
    for ((i = 1; i <= NODES; i++)); do node status "$i" || rc=$?; done
    return "$rc"
}

cmd_kill() {
    local n="${1:-${TS_LOCAL_ES_NODE:-}}" dir pid
    [ -n "$n" ] || ts_die "usage: $0 kill N (or TS_LOCAL_ES_NODE=N)"
    dir="$(TS_LOCAL_ES_PORT="$(http_port "$n")" bash "$HERE/elasticsearch.sh" dir)"
    pid="$(cat "$dir/es.pid" 2>/dev/null)" || ts_die "node $n has no pid file"
    kill -9 "$pid"
    ts_log "killed node $n of $NAME (pid $pid, http $(http_port "$n"))"
}

urls() {
    local i out=()
    for ((i = 1; i <= NODES; i++)); do out+=("http://127.0.0.1:$(http_port "$i")"); done
    (IFS=,; echo "${out[*]}")
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
urls) urls ;;
kill) cmd_kill "${2:-}" ;;
*) echo "usage: $0 {start|stop|status|urls|kill N}" >&2; exit 2 ;;
esac
