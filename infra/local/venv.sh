#!/usr/bin/env bash
# Create or update the project's virtualenv (outside the clone): infra/local/venv.sh [--force]
#
# Why a stamp: `pip install -e .[dev,train]` costs seconds when nothing changed and minutes on a fresh
# machine (torch); it runs only when pyproject.toml or the clone's path changed (an editable
# install points at one clone; a second clone sharing the venv must re-point it).
#
# Knobs (environment):
#   TS_VENV        the virtualenv                       (default ~/.cache/trustscope/venv)
#   TS_PYTHON      interpreter that creates it (>= 3.11) (default python3.11, else python3)
#   TS_PIP_ARGS    extra arguments for pip install, e.g. an --index-url
#   TS_EXTRAS      the project's extras                 (default dev,train: tests + training;
#                  an install that only serves needs none: `pip install .`, no torch)
set -euo pipefail
# shellcheck source=infra/local/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STAMP="$TS_VENV/.trustscope-install"
TS_EXTRAS="${TS_EXTRAS:-dev,train}"

pick_python() {
    local py
    for py in "${TS_PYTHON:-}" python3.11 python3; do
        [ -n "$py" ] && command -v "$py" >/dev/null 2>&1 || continue
        if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$py"
            return
        fi
    done
    ts_die "Python >= 3.11 not found (Debian 12: apt-get install python3 python3-venv) or set TS_PYTHON"
}

want_stamp() {
    printf '%s %s%s\n' "$(sha256sum "$TS_REPO_DIR/pyproject.toml" | cut -c1-64)" "$TS_REPO_DIR" \
        "$([ "$TS_EXTRAS" = dev,train ] || echo " [$TS_EXTRAS]")"
}

# The accurate sentiment model commits its weights only; its ONNX export (~96 MB, derived) lives in
# the cache, keyed by the weights' sha256. The rumour CLI's post-only band reads that model's post
# embedding through it, so it is built here, once per machine, when the venv can (torch, from the
# [train] extra): a fresh install scores posts with the shipped model's encoder view from the first
# run, and CI runs the test of that view instead of skipping it. Without torch nothing is built; the
# CLI then scores that band text-only and logs the command that builds it. Idempotent (seconds).
build_exports() {
    local model="$TS_REPO_DIR/models/trustscope-sentiment-bge-zh"
    [ -f "$model/model.safetensors" ] || return 0
    "$TS_VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' \
        2>/dev/null || return 0
    if "$TS_VENV/bin/python" -m trustscope.cli.main model export-onnx --model "$model" --quantize none >/dev/null; then
        ts_log "ONNX export of models/trustscope-sentiment-bge-zh ready (cached)"
    else
        ts_log "warning: ONNX export of $model failed; the rumour CLI scores posts text-only"
    fi
}

main() {
    local py t0=$SECONDS quiet=--quiet
    if [ -e "$TS_VENV" ] && ! "$TS_VENV/bin/python" -c '' 2>/dev/null; then
        ts_log "virtualenv $TS_VENV is broken (its interpreter does not run): recreating it"
        rm -rf "$TS_VENV"
    fi
    if [ ! -x "$TS_VENV/bin/python" ]; then
        py="$(pick_python)"
        ts_log "creating virtualenv $TS_VENV with $py ($("$py" --version 2>&1))"
        mkdir -p "$(dirname "$TS_VENV")"
        "$py" -m venv "$TS_VENV" \
            || ts_die "python -m venv failed (Debian: apt-get install python3-venv)"
        "$TS_VENV/bin/python" -m pip install --quiet --upgrade pip
        quiet=   # a first install takes minutes: show pip's progress
    fi
    if [ "${1:-}" != --force ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(want_stamp)" ] \
        && "$TS_VENV/bin/python" -c 'import trustscope' 2>/dev/null; then
        ts_log "virtualenv $TS_VENV up to date with pyproject.toml"
        build_exports
        return 0
    fi
    ts_log "installing the project into $TS_VENV (pip install -e .[$TS_EXTRAS])"
    # shellcheck disable=SC2086  # TS_PIP_ARGS is a list of words on purpose
    "$TS_VENV/bin/python" -m pip install $quiet --progress-bar off ${TS_PIP_ARGS:-} \
        -e "${TS_REPO_DIR}[$TS_EXTRAS]"
    want_stamp >"$STAMP"
    build_exports
    ts_log "virtualenv ready in $((SECONDS - t0))s"
}

main "$@"
