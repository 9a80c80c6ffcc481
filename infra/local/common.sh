# shellcheck shell=bash
# Shared helpers for the local bring-up scripts (sourced, never run).
#
# Why plain bash: the bring-up must work on a bare Debian machine before any Python
# environment exists (CI creates the venv with these very scripts), so it cannot depend
# on the project's own packages.
#
# Knobs (environment):
#   TS_CACHE_DIR   cache outside the clone            (default ~/.cache/trustscope)
#   TS_RUN_DIR     pidfiles, logs, instance dirs       (default $TS_CACHE_DIR/run)
#   TS_VENV        the project's virtualenv            (default $TS_CACHE_DIR/venv)

TS_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TS_CACHE_DIR="${TS_CACHE_DIR:-${HOME:-/root}/.cache/trustscope}"
TS_RUN_DIR="${TS_RUN_DIR:-$TS_CACHE_DIR/run}"
TS_VENV="${TS_VENV:-$TS_CACHE_DIR/venv}"
export TS_REPO_DIR TS_CACHE_DIR TS_RUN_DIR TS_VENV

ts_log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
ts_die() { printf '[%s] ERROR: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; exit 1; }

ts_is_root() { [ "$(id -u)" -eq 0 ]; }

# ts_pid_alive PIDFILE PATTERN -> prints the pid and succeeds when the pidfile names a live
# process whose command line contains PATTERN (guards against a recycled pid).
ts_pid_alive() {
    local pidfile="$1" pattern="$2" pid
    [ -s "$pidfile" ] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
    printf '%s\n' "$pid"
}

# ts_stop_pid PID NAME [GRACE_SECONDS]: SIGTERM, wait, then SIGKILL.
ts_stop_pid() {
    local pid="$1" name="$2" grace="${3:-30}" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < grace * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || { ts_log "$name stopped (pid $pid)"; return 0; }
        sleep 0.2
    done
    ts_log "$name did not stop within ${grace}s; sending SIGKILL to $pid"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
}

# ts_port_in_use PORT: true when something listens on 127.0.0.1:PORT.
ts_port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ts_http_get URL [MAX_SECONDS]: body on stdout; fails on connection error or HTTP >= 400.
ts_http_get() {
    local url="$1" max="${2:-5}"
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time "$max" "$url"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -T "$max" -O - "$url"
    else
        python3 - "$url" "$max" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
    sys.stdout.write(r.read().decode())
PY
    fi
}

# ts_download URL DEST: atomic download (DEST appears only when complete).
ts_download() {
    local url="$1" dest="$2" tmp
    tmp="$dest.part.$$"
    mkdir -p "$(dirname "$dest")"
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 --connect-timeout 20 -o "$tmp" "$url" || { rm -f "$tmp"; return 1; }
    elif command -v wget >/dev/null 2>&1; then
        wget -q --tries=3 -O "$tmp" "$url" || { rm -f "$tmp"; return 1; }
    else
        python3 -c 'import sys,urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
            "$url" "$tmp" || { rm -f "$tmp"; return 1; }
    fi
    mv -f "$tmp" "$dest"
}

# ts_tail_logs FILE...: last lines of each existing file, for failure reports.
ts_tail_logs() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        printf -- '----- last lines of %s -----\n' "$f" >&2
        tail -n "${TS_LOG_TAIL:-40}" "$f" >&2
    done
}
