#!/usr/bin/env bash
# Runs serverlab's whole test suite on a fresh machine: installs what the tests drive (curl, python3, and
# chromium for the report's browser test) when it is missing, then runs cargo test with the committed Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ((${#missing[@]})); then
    echo "installing test tools: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cargo test --locked

# Tests that need root (a network namespace of their own) are ignored in a plain `cargo test`; run them here.
if [ "$(id -u)" -eq 0 ]; then
    cargo test --locked --test load -- --ignored ports:: hosts::
else
    echo "not root: skipped load's ports:: and hosts:: tests, which need network namespaces"
fi
