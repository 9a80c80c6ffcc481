#!/usr/bin/env bash
# Local Redis from the OS package, one instance per port: infra/local/redis.sh {start|stop|status|url}
#
# Why a script and not the distribution's service: it must run on machines without systemd
# (containers, CI) and start private instances for tests next to the developer's own.
#
# Knobs (environment):
#   TS_LOCAL_REDIS_PORT   port on 127.0.0.1                         (default 6379)
#   TS_LOCAL_REDIS_AOF    yes|no: append-only file, fsync everysec  (default yes)
#   TS_LOCAL_REDIS_BIN    redis-server binary                       (default from PATH)
#   TS_LOCAL_REDIS_WIPE   1 = delete the instance's data before start (default 0)
#   TS_RUN_DIR            instance dirs live in $TS_RUN_DIR/redis-<port>
set -euo pipefail
# shellcheck source=infra/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT="${TS_LOCAL_REDIS_PORT:-6379}"
AOF="${TS_LOCAL_REDIS_AOF:-yes}"
BIN="${TS_LOCAL_REDIS_BIN:-redis-server}"
DIR="$TS_RUN_DIR/redis-$PORT"
PIDFILE="$DIR/redis.pid"
LOGFILE="$DIR/redis.log"
MARK=":$PORT"   # redis-server's command line reads "redis-server 127.0.0.1:<port>"

redis_ping() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = "PONG" ]
    else
        # No redis-cli (redis-tools not installed): speak RESP over bash's /dev/tcp.
        local reply
        reply="$(exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf 'PING\r\n' >&3 \
            && timeout 2 head -c 7 <&3)" 2>/dev/null || return 1
        [ "${reply%$'\r'}" = "+PONG" ]
    fi
}

install_hint() {
    if ts_is_root && command -v apt-get >/dev/null 2>&1; then
        ts_log "installing redis-server with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y --no-install-recommends redis-server >&2; }
    fi
    command -v "$BIN" >/dev/null 2>&1 \
        || ts_die "redis-server not found: install it (Debian: apt-get install redis-server) or set TS_LOCAL_REDIS_BIN"
}

cmd_status() {
    local pid
    if pid="$(ts_pid_alive "$PIDFILE" "$MARK")"; then
        echo "redis running on 127.0.0.1:$PORT (pid $pid, rss $(awk '/^VmRSS/ {printf "%d MB", $2/1024}' "/proc/$pid/status"), dir $DIR)"
        return 0
    fi
    echo "redis not running on 127.0.0.1:$PORT"
    return 3
}

cmd_start() {
    local pid i
    command -v "$BIN" >/dev/null 2>&1 || install_hint
    if pid="$(ts_pid_alive "$PIDFILE" "$MARK")"; then
        if [ "${TS_LOCAL_REDIS_WIPE:-0}" = 1 ]; then
            ts_stop_pid "$pid" "redis :$PORT" 20
        else
            ts_log "redis already running on 127.0.0.1:$PORT (pid $pid)"
            return 0
        fi
    fi
    if ts_port_in_use "$PORT"; then
        ts_die "port $PORT is taken by a process this script did not start; set TS_REDIS_URL to use it or TS_LOCAL_REDIS_PORT to pick another port"
    fi
    [ "${TS_LOCAL_REDIS_WIPE:-0}" = 1 ] && rm -rf "$DIR/data"
    mkdir -p "$DIR/data"
    rm -f "$PIDFILE"
    local persist=(--appendonly no --save "")
    if [ "$AOF" = yes ]; then
        persist=(--appendonly yes --appendfsync everysec --save "")
    fi
    # No config file: every setting on the command line keeps instances independent of /etc.
    # hash-max-listpack-value 512 keeps the integrity engine's review records and author state in
    # Redis' compact listpack encoding (docs/integrity.md, "Redis setting"): ~70 MiB less at 1M reviews.
    "$BIN" --port "$PORT" --bind 127.0.0.1 --protected-mode yes \
        --hash-max-listpack-value 512 \
        --daemonize yes --pidfile "$PIDFILE" --logfile "$LOGFILE" --dir "$DIR/data" \
        "${persist[@]}" >/dev/null
    for ((i = 0; i < 150; i++)); do
        if redis_ping; then
            ts_log "redis ready on 127.0.0.1:$PORT (aof=$AOF, dir $DIR)"
            return 0
        fi
        sleep 0.2
    done
    ts_tail_logs "$LOGFILE"
    ts_die "redis did not answer PING on 127.0.0.1:$PORT within 30s"
}

cmd_stop() {
    local pid
    if pid="$(ts_pid_alive "$PIDFILE" "$MARK")"; then
        ts_stop_pid "$pid" "redis :$PORT" 30
    else
        ts_log "redis on 127.0.0.1:$PORT not running (nothing to stop)"
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
url) echo "redis://127.0.0.1:$PORT/0" ;;
*) echo "usage: $0 {start|stop|status|url}" >&2; exit 2 ;;
esac
