#!/usr/bin/env bash
# Runs serverlab's whole test suite on a fresh machine: installs what the tests drive (curl, python3, chromium for
# the report's browser test, kubernetes-validate for the manifests) when it is missing, then runs cargo test with
# the committed Cargo.lock.
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

# deploy's manifest test validates the Kubernetes files offline with kubernetes-validate (it bundles the schemas).
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
    echo "installing test tools: kubernetes-validate (PyPI)"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get install -y -q --no-install-recommends python3-pip
    fi
    # A Debian python3 refuses pip installs into itself (PEP 668) unless told this is meant.
    python3 -m pip install --quiet kubernetes-validate 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages kubernetes-validate
fi

cargo test --locked

# The container image test needs an engine; CI machines have none, so it is ignored unless one is here.
if podman info >/dev/null 2>&1 || docker info >/dev/null 2>&1; then
    cargo test --locked --test deploy -- --ignored image::
else
    echo "no container engine (podman, or docker with a daemon): skipped deploy's image:: test"
fi

# Tests that need root (a network namespace of their own) are ignored in a plain `cargo test`; run them here.
if [ "$(id -u)" -eq 0 ]; then
    cargo test --locked --test load -- --ignored ports:: hosts::
else
    echo "not root: skipped load's ports:: and hosts:: tests, which need network namespaces"
fi
