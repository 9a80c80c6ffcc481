#!/usr/bin/env bash
# The whole local stack without Docker: infra/local/stack.sh {up|down|status|logs [-f]}
#
# up:   virtualenv (infra/local/venv.sh); Redis and Elasticsearch started locally only when
#       TS_REDIS_URL / TS_ES_URL are unset; then the five services (and the feed poller when
#       TS_POLLERS_CONFIG is set); waits until they are ready; prints the URLs.
# down: stops exactly what `up` started (recorded in $TS_RUN_DIR/stack.state), nothing else.
#
# Knobs (environment), besides those of redis.sh, elasticsearch.sh, services.sh, venv.sh:
#   TS_REDIS_URL / TS_ES_URL   use these servers instead of starting local ones
#   TS_LOCAL_SERVICES          services to start (default: all five; "none" = only the servers)
#   TS_API_KEYS                API keys for the services; when unset, `up` makes one local key
#                              with every role, kept in $TS_RUN_DIR/local-api-key (mode 600)
set -euo pipefail
# shellcheck source=infra/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HERE="$(dirname "${BASH_SOURCE[0]}")"
STATE="$TS_RUN_DIR/stack.state"

record() {   # record LINE: remember that `up` owns this thing (once)
    mkdir -p "$TS_RUN_DIR"
    grep -qxF -- "$1" "$STATE" 2>/dev/null || echo "$1" >>"$STATE"
}

cmd_up() {
    local t0=$SECONDS services=() port
    bash "$HERE/venv.sh"
    mkdir -p "$TS_RUN_DIR"
    if [ -z "${TS_REDIS_URL:-}" ]; then
        port="${TS_LOCAL_REDIS_PORT:-6379}"
        record "redis $port"
        TS_LOCAL_REDIS_PORT="$port" bash "$HERE/redis.sh" start
        export TS_REDIS_URL="redis://127.0.0.1:$port/0"
    else
        ts_log "using Redis at TS_REDIS_URL (not starting one)"
    fi
    if [ -z "${TS_ES_URL:-}" ]; then
        port="${TS_LOCAL_ES_PORT:-9200}"
        record "elasticsearch $port"
        TS_LOCAL_ES_PORT="$port" bash "$HERE/elasticsearch.sh" start
        export TS_ES_URL="http://127.0.0.1:$port"
    else
        ts_log "using Elasticsearch at TS_ES_URL (not starting one)"
    fi
    # For `make status` and for humans: which servers this stack talks to.
    printf 'TS_REDIS_URL=%s\nTS_ES_URL=%s\n' "$TS_REDIS_URL" "$TS_ES_URL" >"$TS_RUN_DIR/stack.env"
    local key_note="TS_API_KEYS from the environment"
    if [ -z "${TS_API_KEYS:-}" ]; then
        local keyfile="$TS_RUN_DIR/local-api-key"
        if [ ! -s "$keyfile" ]; then
            (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$keyfile")
        fi
        TS_API_KEYS="$(cat "$keyfile"):ingest+reader+admin"
        export TS_API_KEYS
        key_note="$(cat "$keyfile")  (local, every role; from $keyfile)"
    fi
    if [ "${TS_LOCAL_SERVICES:-all}" != none ]; then
        # shellcheck disable=SC2206  # a list of names on purpose
        [ "${TS_LOCAL_SERVICES:-all}" = all ] || services=(${TS_LOCAL_SERVICES//,/ })
        record "services ${services[*]:-all}"
        bash "$HERE/services.sh" start "${services[@]+"${services[@]}"}"
    fi
    if [ "${TS_LOCAL_SERVICES:-all}" = none ]; then
        printf '\nServers up (%ss), services not started (TS_LOCAL_SERVICES=none):\n  redis          %s\n  elasticsearch  %s\n' \
            "$((SECONDS - t0))" "$TS_REDIS_URL" "$TS_ES_URL"
        return 0
    fi
    cat <<EOF

TrustScope is up ($((SECONDS - t0))s):
  gateway        http://127.0.0.1:${TS_LOCAL_GATEWAY_PORT:-8000}   (docs: /docs, health: /healthz)
  ingest         http://127.0.0.1:${TS_LOCAL_INGEST_PORT:-8001}   (docs: /docs, health: /healthz)
  metrics        sentiment :$((${TS_LOCAL_METRICS_BASE:-9100} + 1))  integrity :$((${TS_LOCAL_METRICS_BASE:-9100} + 2))  indexer :$((${TS_LOCAL_METRICS_BASE:-9100} + 3))  poller :$((${TS_LOCAL_METRICS_BASE:-9100} + 4)) if TS_POLLERS_CONFIG   (/metrics)
  redis          $TS_REDIS_URL
  elasticsearch  $TS_ES_URL
  logs           $TS_RUN_DIR   (make logs)
  API key        $key_note
Try (KEY = the API key above):
  curl -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' http://127.0.0.1:${TS_LOCAL_INGEST_PORT:-8001}/v1/documents \\
       -d '{"kind":"review","source":"demo","source_id":"1","text":"提现很快，客服态度好","rating":5,"created_at":"$(date -u +%FT%TZ)"}'
  curl -H "Authorization: Bearer \$KEY" http://127.0.0.1:${TS_LOCAL_GATEWAY_PORT:-8000}/v1/documents/<id from the answer>
Stop with: make down
EOF
}

cmd_down() {
    local kind arg lines=()
    if [ ! -s "$STATE" ]; then
        ts_log "nothing recorded in $STATE: nothing to stop"
        return 0
    fi
    mapfile -t lines <"$STATE"
    # Reverse order of start: services, then Elasticsearch, then Redis.
    for kind in services elasticsearch redis; do
        for arg in "${lines[@]}"; do
            [ "${arg%% *}" = "$kind" ] || continue
            case "$kind" in
            services)
                # shellcheck disable=SC2086  # a list of names on purpose
                if [ "${arg#services }" = all ]; then bash "$HERE/services.sh" stop
                else bash "$HERE/services.sh" stop ${arg#services }; fi ;;
            elasticsearch) TS_LOCAL_ES_PORT="${arg#* }" bash "$HERE/elasticsearch.sh" stop ;;
            redis) TS_LOCAL_REDIS_PORT="${arg#* }" bash "$HERE/redis.sh" stop ;;
            esac
        done
    done
    rm -f "$STATE" "$TS_RUN_DIR/stack.env"
}

cmd_status() {
    local arg rc=0
    [ -f "$TS_RUN_DIR/stack.env" ] && sed 's/^/  /' "$TS_RUN_DIR/stack.env"
    if [ ! -s "$STATE" ]; then
        echo "stack not up (no $STATE)"
        return 3
    fi
    while read -r arg; do
        case "${arg%% *}" in
        redis) TS_LOCAL_REDIS_PORT="${arg#* }" bash "$HERE/redis.sh" status || rc=1 ;;
        elasticsearch) TS_LOCAL_ES_PORT="${arg#* }" bash "$HERE/elasticsearch.sh" status || rc=1 ;;
        services)
            # shellcheck disable=SC2086
            if [ "${arg#services }" = all ]; then bash "$HERE/services.sh" status || rc=1
            else bash "$HERE/services.sh" status ${arg#services } || rc=1; fi ;;
        esac
    done <"$STATE"
    # Lag, pending and consumers per stage and dead letters by reason (informational: the exit
    # code stays the processes' health). Bounded: a Redis that does not answer costs 10 s at most.
    if [ -x "$TS_VENV/bin/python" ] && [ -f "$TS_RUN_DIR/stack.env" ]; then
        (set -a && . "$TS_RUN_DIR/stack.env" && set +a && cd "$TS_REPO_DIR" \
            && timeout 10 "$TS_VENV/bin/python" -m trustscope.cli.main pipeline status) 2>/dev/null \
            || echo "pipeline status unavailable (trustscope pipeline status)"
    fi
    return $rc
}

cmd_logs() {
    local files=() arg
    shopt -s nullglob
    files+=("$TS_RUN_DIR"/services/*.log)
    while read -r arg; do
        case "${arg%% *}" in
        redis) files+=("$TS_RUN_DIR/redis-${arg#* }/redis.log") ;;
        elasticsearch) files+=("$(TS_LOCAL_ES_PORT="${arg#* }" bash "$HERE/elasticsearch.sh" dir)/logs/trustscope-local-${arg#* }.log") ;;
        esac
    done < <(cat "$STATE" 2>/dev/null)
    [ ${#files[@]} -gt 0 ] || { echo "no logs under $TS_RUN_DIR"; return 0; }
    if [ "${1:-}" = -f ]; then
        tail -n 20 -F "${files[@]}"
    else
        tail -n "${TS_LOG_TAIL:-30}" "${files[@]}"
    fi
}

action="${1:-}"
shift || true
case "$action" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
logs) cmd_logs "$@" ;;
*) echo "usage: $0 {up|down|status|logs [-f]}" >&2; exit 2 ;;
esac
