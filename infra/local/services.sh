#!/usr/bin/env bash
# The five TrustScope processes, without Docker: infra/local/services.sh {start|stop|status} [NAME...]
#
# NAME is gateway, ingest, sentiment, integrity, indexer, alerter or poller (default: all; poller only
# when TS_POLLERS_CONFIG names its YAML file, since it fetches remote feeds). Each runs detached
# (setsid + nohup) from the virtualenv with a pidfile and a log in $TS_RUN_DIR/services/.
# They read TS_* settings from the environment (TS_REDIS_URL, TS_ES_URL, ...); infra/local/stack.sh
# sets those. start waits for the HTTP services' /healthz and the workers' /metrics.
#
# Knobs (environment):
#   TS_LOCAL_GATEWAY_PORT   (default 8000)     TS_LOCAL_INGEST_PORT   (default 8001)
#   TS_LOCAL_METRICS_BASE   workers' Prometheus ports are BASE+1..5 (default 9100: 9101-9105)
#   TS_LOCAL_WAIT           seconds to wait for health              (default 120)
set -euo pipefail
# shellcheck source=infra/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

GATEWAY_PORT="${TS_LOCAL_GATEWAY_PORT:-8000}"
INGEST_PORT="${TS_LOCAL_INGEST_PORT:-8001}"
METRICS_BASE="${TS_LOCAL_METRICS_BASE:-9100}"
WAIT="${TS_LOCAL_WAIT:-120}"
SDIR="$TS_RUN_DIR/services"
ALL=(alerter indexer integrity sentiment ingest gateway)   # start order: consumers before producers
if [ -n "${TS_POLLERS_CONFIG:-}" ]; then ALL+=(poller); fi

# svc_* NAME -> the command, the health URL, the command-line mark, the extra environment.
svc_cmd() {
    case "$1" in
    gateway) echo "$TS_VENV/bin/uvicorn services.gateway.app:app --host 127.0.0.1 --port $GATEWAY_PORT" ;;
    ingest) echo "$TS_VENV/bin/uvicorn services.ingest.app:app --host 127.0.0.1 --port $INGEST_PORT" ;;
    sentiment | integrity | indexer | alerter) echo "$TS_VENV/bin/python -m services.$1" ;;
    poller) echo "$TS_VENV/bin/python -m services.ingest.poller" ;;
    *) ts_die "unknown service '$1' (one of: ${ALL[*]})" ;;
    esac
}
svc_metrics_port() {
    case "$1" in sentiment) echo $((METRICS_BASE + 1)) ;; integrity) echo $((METRICS_BASE + 2)) ;;
    indexer) echo $((METRICS_BASE + 3)) ;; poller) echo $((METRICS_BASE + 4)) ;; alerter) echo $((METRICS_BASE + 5)) ;; *) echo 0 ;; esac
}
svc_url() {
    case "$1" in
    gateway) echo "http://127.0.0.1:$GATEWAY_PORT/healthz" ;;
    ingest) echo "http://127.0.0.1:$INGEST_PORT/healthz" ;;
    *) echo "http://127.0.0.1:$(svc_metrics_port "$1")/metrics" ;;
    esac
}
svc_mark() {
    case "$1" in
    gateway | ingest) echo "services.$1.app" ;; poller) echo "services.ingest.poller" ;;
    *) echo "services.$1" ;;
    esac
}
svc_module_file() {
    case "$1" in
    gateway | ingest) echo "$TS_REPO_DIR/services/$1/app.py" ;;
    poller) echo "$TS_REPO_DIR/services/ingest/poller.py" ;;
    *) echo "$TS_REPO_DIR/services/$1/__main__.py" ;;
    esac
}

start_one() {
    local name="$1" pid log="$SDIR/$1.log" pidfile="$SDIR/$1.pid" cmd
    if pid="$(ts_pid_alive "$pidfile" "$(svc_mark "$name")")"; then
        ts_log "$name already running (pid $pid)"
        return 0
    fi
    [ -f "$(svc_module_file "$name")" ] \
        || ts_die "$name: $(svc_module_file "$name") does not exist (yet); start a subset: $0 start NAME..."
    case "$name" in
    gateway) ts_port_in_use "$GATEWAY_PORT" && ts_die "port $GATEWAY_PORT taken; set TS_LOCAL_GATEWAY_PORT" ;;
    ingest) ts_port_in_use "$INGEST_PORT" && ts_die "port $INGEST_PORT taken; set TS_LOCAL_INGEST_PORT" ;;
    esac
    cmd="$(svc_cmd "$name")"
    # Where this start's log output begins: readiness of a worker is read from there.
    stat -c %s "$log" 2>/dev/null >"$SDIR/$name.offset" || echo 0 >"$SDIR/$name.offset"
    printf '\n===== %s starting %s: %s\n' "$(date -u +%FT%TZ)" "$name" "$cmd" >>"$log"
    # setsid: own session, so ^C on `make up` or closing the terminal does not kill it.
    # shellcheck disable=SC2086  # cmd is a list of words
    (cd "$TS_REPO_DIR" && TS_METRICS_PORT="$(svc_metrics_port "$name")" \
        exec setsid nohup $cmd >>"$log" 2>&1 </dev/null) &
    echo $! >"$pidfile"
    ts_log "$name started (pid $(cat "$pidfile"), log $log)"
}

# worker_started NAME: a worker serves /metrics before its stage is built (model load, ES
# migration); /readyz answers 200 only once its loop takes work (and 503 while it waits out a
# Redis or Elasticsearch outage), see trustscope/worker.py. (This used to read the log with
# `tail | grep -q`, which under pipefail fails with 141 once the log is large.)
worker_started() {
    case "$1" in gateway | ingest | poller) return 0 ;; esac
    ts_http_get "http://127.0.0.1:$(svc_metrics_port "$1")/readyz" 3 >/dev/null 2>&1
}

wait_healthy() {
    local name pending=("$@") left t0=$SECONDS
    while [ ${#pending[@]} -gt 0 ]; do
        left=()
        for name in "${pending[@]}"; do
            if ! ts_pid_alive "$SDIR/$name.pid" "$(svc_mark "$name")" >/dev/null; then
                ts_tail_logs "$SDIR/$name.log"
                ts_die "$name exited during start-up (log above: $SDIR/$name.log)"
            fi
            if ts_http_get "$(svc_url "$name")" 3 >/dev/null 2>&1 && worker_started "$name"; then
                ts_log "$name healthy: $(svc_url "$name") ($((SECONDS - t0))s)"
            else
                left+=("$name")
            fi
        done
        pending=("${left[@]+"${left[@]}"}")
        [ ${#pending[@]} -eq 0 ] && break
        if [ $((SECONDS - t0)) -ge "$WAIT" ]; then
            for name in "${pending[@]}"; do ts_tail_logs "$SDIR/$name.log"; done
            ts_die "not healthy within ${WAIT}s: ${pending[*]} (logs above)"
        fi
        sleep 1
    done
}

cmd_start() {
    local names=("$@") name
    [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
    [ -x "$TS_VENV/bin/python" ] || ts_die "no virtualenv at $TS_VENV: run infra/local/venv.sh"
    mkdir -p "$SDIR"
    for name in "${names[@]}"; do start_one "$name"; done
    wait_healthy "${names[@]}"
    # Make sure none of them died right after it answered.
    sleep "${TS_LOCAL_SETTLE:-2}"
    for name in "${names[@]}"; do
        ts_pid_alive "$SDIR/$name.pid" "$(svc_mark "$name")" >/dev/null && continue
        ts_tail_logs "$SDIR/$name.log"
        ts_die "$name exited shortly after start-up (log above: $SDIR/$name.log)"
    done
}

cmd_stop() {
    local names=("$@") name pid i
    if [ ${#names[@]} -eq 0 ]; then   # producers first
        names=(gateway ingest sentiment integrity indexer alerter)
        if [ -f "$SDIR/poller.pid" ]; then names=(poller "${names[@]}"); fi
    fi
    for name in "${names[@]}"; do
        svc_cmd "$name" >/dev/null
        if pid="$(ts_pid_alive "$SDIR/$name.pid" "$(svc_mark "$name")")"; then
            ts_stop_pid "$pid" "$name" "${TS_LOCAL_STOP_GRACE:-30}"
        else
            ts_log "$name not running (nothing to stop)"
        fi
        rm -f "$SDIR/$name.pid"
    done
}

cmd_status() {
    local names=("$@") name pid rss rc=0
    [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
    for name in "${names[@]}"; do
        if pid="$(ts_pid_alive "$SDIR/$name.pid" "$(svc_mark "$name")")"; then
            rss="$(awk '/^VmRSS/ {printf "%d MB", $2/1024}' "/proc/$pid/status" 2>/dev/null)"
            if ts_http_get "$(svc_url "$name")" 3 >/dev/null 2>&1 && worker_started "$name"; then
                echo "$name running (pid $pid, rss $rss), $(svc_url "$name") ok"
            else
                echo "$name running (pid $pid, rss $rss), $(svc_url "$name") NOT ready"
                rc=1
            fi
        else
            echo "$name not running"
            rc=3
        fi
    done
    return $rc
}

action="${1:-}"
shift || true
case "$action" in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
status) cmd_status "$@" ;;
*) echo "usage: $0 {start|stop|status} [${ALL[*]}]" >&2; exit 2 ;;
esac
