#!/usr/bin/env bash
# Local single-node Elasticsearch: infra/local/elasticsearch.sh {fetch|start|stop|status|url|dir}
#
# Why the integ-test-zip from Maven Central: it is the official, checksummed, JDK-less build
# (about 100 MB) that package-registry-only machines can reach; it carries the transport and
# x-pack core/security modules, which is all the project's mappings need (standard analyzer).
#
# Layout: the zip is cached in $TS_CACHE_DIR/downloads; it is unpacked once per version into
# ES_BASE/elasticsearch-<version> (read-only "home"); every node is an instance dir keyed by
# its HTTP port with its own config/, data/, logs/ and tmp/, so a developer node and a test
# node never share state.
#
# Elasticsearch refuses to run as root. When this script runs as root it creates a system
# user (TS_LOCAL_ES_USER, default "trustscope") and runs the node as that user with setpriv.
# Root's home is usually mode 700, so that user could not read ~/.cache; root therefore keeps
# home and instances in /var/tmp/trustscope (TS_LOCAL_ES_BASE) and links each instance into
# $TS_RUN_DIR so logs are found in one place.
#
# Knobs (environment):
#   TS_LOCAL_ES_PORT      HTTP port on 127.0.0.1                     (default 9200)
#   TS_LOCAL_ES_VERSION   distribution version                       (default 8.19.21)
#   TS_LOCAL_ES_HEAP      JVM heap, -Xms = -Xmx                      (default 1g)
#   TS_LOCAL_ES_TIMEOUT   seconds to wait for health yellow          (default 120)
#   TS_LOCAL_ES_WIPE      1 = delete the node's data before start    (default 0)
#   TS_LOCAL_ES_BASE      home + instances when root                 (default /var/tmp/trustscope)
#   TS_LOCAL_ES_USER      user that runs the node when root          (default trustscope)
#   ES_JAVA_HOME          JDK >= 17                 (default /usr/lib/jvm/java-17-openjdk-amd64)
# A member of a multi-node cluster (infra/local/es-cluster.sh sets these; unset = single node):
#   TS_LOCAL_ES_CLUSTER_NAME     cluster.name shared by the members  (default trustscope-local-<port>)
#   TS_LOCAL_ES_TRANSPORT_PORT   transport.port of this node         (default: ES picks 9300-9399)
#   TS_LOCAL_ES_SEED_HOSTS       comma-separated host:transport_port of the members
#   TS_LOCAL_ES_INITIAL_MASTERS  comma-separated node names (ts-local-<http port>) that vote first
# A member's start waits for its HTTP port only: health needs a quorum, which es-cluster.sh awaits.
set -euo pipefail
# shellcheck source=infra/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VERSION="${TS_LOCAL_ES_VERSION:-8.19.21}"
PORT="${TS_LOCAL_ES_PORT:-9200}"
HEAP="${TS_LOCAL_ES_HEAP:-1g}"
TIMEOUT="${TS_LOCAL_ES_TIMEOUT:-120}"
ES_USER="${TS_LOCAL_ES_USER:-trustscope}"
MAVEN="https://repo1.maven.org/maven2/org/elasticsearch/distribution/integ-test-zip/elasticsearch"
ZIP_URL="$MAVEN/$VERSION/elasticsearch-$VERSION.zip"
ZIP="$TS_CACHE_DIR/downloads/elasticsearch-$VERSION.zip"

if ts_is_root; then
    ES_BASE="${TS_LOCAL_ES_BASE:-/var/tmp/trustscope}"
    INSTANCES="$ES_BASE/run"
else
    ES_BASE="${TS_LOCAL_ES_BASE:-$TS_CACHE_DIR}"
    INSTANCES="$TS_RUN_DIR"
fi
ES_HOME="$ES_BASE/elasticsearch-$VERSION"
INST="$INSTANCES/es-$PORT"
PIDFILE="$INST/es.pid"
CLUSTER="${TS_LOCAL_ES_CLUSTER_NAME:-trustscope-local-$PORT}"
SEEDS="${TS_LOCAL_ES_SEED_HOSTS:-}"
LOGFILE="$INST/logs/$CLUSTER.log"
STARTUP_LOG="$INST/logs/startup.out"

# es_alive -> pid of this instance's server JVM. The JVM's command line does not name the
# config dir, but Elasticsearch sets the server's working directory to path.logs.
es_alive() {
    local pid
    pid="$(ts_pid_alive "$PIDFILE" "org.elasticsearch.bootstrap.Elasticsearch")" || return 1
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$INST/logs" ] || return 1
    echo "$pid"
}

find_java_home() {
    local j
    if [ -n "${ES_JAVA_HOME:-}" ]; then echo "$ES_JAVA_HOME"; return; fi
    for j in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/java-21-openjdk-*; do
        [ -x "$j/bin/java" ] && { echo "$j"; return; }
    done
    if command -v java >/dev/null 2>&1; then
        dirname "$(dirname "$(readlink -f "$(command -v java)")")"
        return
    fi
    ts_die "no JDK found: install openjdk-17-jre-headless or set ES_JAVA_HOME"
}

zip_ok() {
    # The .sha1 from Maven Central is kept beside the zip so later checks work offline.
    [ -s "$ZIP" ] && [ -s "$ZIP.sha1" ] \
        && [ "$(sha1sum "$ZIP" | cut -c1-40)" = "$(tr -dc '0-9a-f' <"$ZIP.sha1" | cut -c1-40)" ]
}

cmd_fetch() {
    if zip_ok; then
        ts_log "elasticsearch $VERSION: cached $ZIP (sha1 ok)"
    else
        ts_log "elasticsearch $VERSION: fetching checksum and archive from Maven Central"
        ts_download "$ZIP_URL.sha1" "$ZIP.sha1" || ts_die "could not fetch $ZIP_URL.sha1"
        if ! zip_ok; then
            ts_download "$ZIP_URL" "$ZIP" || ts_die "could not fetch $ZIP_URL"
        fi
        zip_ok || { rm -f "$ZIP"; ts_die "sha1 mismatch for $ZIP (deleted; run fetch again)"; }
        ts_log "elasticsearch $VERSION: downloaded and verified $ZIP"
    fi
    install_home
}

install_home() {
    [ -x "$ES_HOME/bin/elasticsearch" ] && return 0
    zip_ok || ts_die "$ZIP missing or corrupt: run '$0 fetch' first"
    local tmp="$ES_BASE/.unpack.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    ts_log "unpacking elasticsearch $VERSION into $ES_HOME"
    if command -v unzip >/dev/null 2>&1; then
        unzip -q "$ZIP" -d "$tmp"
    else
        # zipfile drops the exec bits; restore them from the archive's unix mode.
        python3 - "$ZIP" "$tmp" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        mode = info.external_attr >> 16
        if mode and not info.is_dir():
            os.chmod(path, mode & 0o777)
PY
    fi
    chmod -R a+rX "$tmp"
    mv "$tmp/elasticsearch-$VERSION" "$ES_HOME" 2>/dev/null \
        || [ -x "$ES_HOME/bin/elasticsearch" ] || ts_die "could not unpack into $ES_HOME"
    rm -rf "$tmp"
}

ensure_user() {
    id -u "$ES_USER" >/dev/null 2>&1 && return 0
    ts_log "creating system user $ES_USER to run Elasticsearch (it refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$ES_USER" 2>/dev/null || id -u "$ES_USER" >/dev/null 2>&1 \
        || ts_die "could not create user $ES_USER"
}

# as_es_user CMD...: run as the node's user (identity when not root). setpriv keeps the
# environment as is (runuser would reset parts of it); runuser is the fallback.
as_es_user() {
    if ! ts_is_root; then
        "$@"
    elif command -v setpriv >/dev/null 2>&1; then
        setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups -- "$@"
    else
        runuser -u "$ES_USER" -- "$@"
    fi
}

# discovery_config: single-node, or the settings of one member of a multi-node cluster.
discovery_config() {
    if [ -z "$SEEDS" ]; then
        echo "discovery.type: single-node"
        return
    fi
    echo "discovery.seed_hosts: [$(sed 's/[^,][^,]*/"&"/g' <<<"$SEEDS")]"
    echo "cluster.initial_master_nodes: [$(sed 's/[^,][^,]*/"&"/g' <<<"${TS_LOCAL_ES_INITIAL_MASTERS:?set with TS_LOCAL_ES_SEED_HOSTS}")]"
    [ -n "${TS_LOCAL_ES_TRANSPORT_PORT:-}" ] && echo "transport.port: $TS_LOCAL_ES_TRANSPORT_PORT"
    return 0
}

write_config() {
    local conf="$INST/config"
    mkdir -p "$conf/jvm.options.d" "$INST/data" "$INST/logs" "$INST/tmp"
    # Defaults from the distribution (jvm.options, log4j2.properties, ...), our settings on top.
    cp -f "$ES_HOME"/config/*.yml "$ES_HOME"/config/*.properties "$ES_HOME/config/jvm.options" \
        "$ES_HOME/config/users" "$ES_HOME/config/users_roles" "$conf/"
    cat >"$conf/elasticsearch.yml" <<EOF
# Written by infra/local/elasticsearch.sh on every start; edit the script, not this file.
cluster.name: $CLUSTER
node.name: ts-local-$PORT
path.data: $INST/data
path.logs: $INST/logs
network.host: 127.0.0.1
http.port: $PORT
$(discovery_config)
# Local node only: production (docker-compose.yml) runs with security on.
xpack.security.enabled: false
# Developer disks are often nearly full; do not refuse writes because of free space.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
    cat >"$conf/jvm.options.d/trustscope.options" <<EOF
-Xms$HEAP
-Xmx$HEAP
EOF
    if ts_is_root; then
        ensure_user
        chmod 755 "$ES_BASE" "$INSTANCES" 2>/dev/null || true
        chown -R "$ES_USER:$ES_USER" "$INST"
        mkdir -p "$TS_RUN_DIR"
        ln -sfn "$INST" "$TS_RUN_DIR/es-$PORT"
    fi
}

# node_ready: health yellow for a single node; for a cluster member, its HTTP port answering.
node_ready() {
    if [ -n "$SEEDS" ]; then
        # any HTTP answer will do (this build has no GET / handler: 405); no answer is "000"
        if command -v curl >/dev/null 2>&1; then
            [ "$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null)" != 000 ]
        else
            ts_port_in_use "$PORT"
        fi
    else
        health_yellow
    fi
}

health_yellow() {
    ts_http_get "http://127.0.0.1:$PORT/_cluster/health?wait_for_status=yellow&timeout=2s" 5 2>/dev/null \
        | grep -qE '"status":"(yellow|green)"'
}

cmd_status() {
    local pid
    if pid="$(es_alive)"; then
        if health_yellow; then
            echo "elasticsearch running on http://127.0.0.1:$PORT (pid $pid, rss $(awk '/^VmRSS/ {printf "%d MB", $2/1024}' "/proc/$pid/status"), dir $INST)"
            return 0
        fi
        echo "elasticsearch process $pid alive but http://127.0.0.1:$PORT not healthy (dir $INST)"
        return 1
    fi
    echo "elasticsearch not running on 127.0.0.1:$PORT"
    return 3
}

cmd_start() {
    local pid java_home t0 launcher i
    if pid="$(es_alive)"; then
        if [ "${TS_LOCAL_ES_WIPE:-0}" = 1 ]; then
            ts_stop_pid "$pid" "elasticsearch :$PORT" 60
        else
            ts_log "elasticsearch already running on http://127.0.0.1:$PORT (pid $pid)"
            wait_ready "$pid"
            return 0
        fi
    fi
    if ts_port_in_use "$PORT"; then
        ts_die "port $PORT is taken by a process this script did not start; set TS_ES_URL to use it or TS_LOCAL_ES_PORT to pick another port"
    fi
    zip_ok || cmd_fetch
    install_home
    java_home="$(find_java_home)"
    [ "${TS_LOCAL_ES_WIPE:-0}" = 1 ] && rm -rf "$INST/data" "$INST/logs"
    rm -f "$PIDFILE"
    write_config
    t0=$SECONDS
    ts_log "starting elasticsearch $VERSION on http://127.0.0.1:$PORT (heap $HEAP, java $java_home, dir $INST)"
    # -d: the launcher exits once the node runs detached (so only one JVM stays); -p: pidfile.
    # cd into the instance: the node's user may not be able to read the caller's cwd.
    (cd "$INST" && as_es_user env ES_JAVA_HOME="$java_home" ES_PATH_CONF="$INST/config" \
        ES_TMPDIR="$INST/tmp" ES_JAVA_OPTS="${TS_LOCAL_ES_JAVA_OPTS:-}" \
        "$ES_HOME/bin/elasticsearch" -d -p "$PIDFILE") >"$STARTUP_LOG" 2>&1 </dev/null &
    launcher=$!
    for ((i = 0; i < TIMEOUT * 2; i++)); do
        if node_ready; then
            wait "$launcher" 2>/dev/null || true
            pid="$(es_alive || echo '?')"
            ts_log "elasticsearch ready on http://127.0.0.1:$PORT after $((SECONDS - t0))s (pid $pid)"
            return 0
        fi
        if ! kill -0 "$launcher" 2>/dev/null && ! es_alive >/dev/null; then
            wait "$launcher" 2>/dev/null || true
            ts_tail_logs "$STARTUP_LOG" "$LOGFILE"
            ts_die "elasticsearch on port $PORT exited during start-up (logs above, dir $INST)"
        fi
        sleep 0.5
    done
    ts_tail_logs "$STARTUP_LOG" "$LOGFILE"
    ts_die "elasticsearch on port $PORT not healthy (yellow) within ${TIMEOUT}s (logs above, dir $INST)"
}

wait_ready() {
    local i
    for ((i = 0; i < TIMEOUT * 2; i++)); do
        node_ready && return 0
        kill -0 "$1" 2>/dev/null || break
        sleep 0.5
    done
    ts_tail_logs "$LOGFILE"
    ts_die "elasticsearch on port $PORT is running but not healthy (yellow)"
}

cmd_stop() {
    local pid
    if pid="$(es_alive)"; then
        ts_stop_pid "$pid" "elasticsearch :$PORT" 60
    else
        ts_log "elasticsearch on 127.0.0.1:$PORT not running (nothing to stop)"
    fi
    rm -f "$PIDFILE" 2>/dev/null || true
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
url) echo "http://127.0.0.1:$PORT" ;;
dir) echo "$INST" ;;
*) echo "usage: $0 {fetch|start|stop|status|url|dir}" >&2; exit 2 ;;
esac
