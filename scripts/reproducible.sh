#!/usr/bin/env bash
# Reproducibility check: `make dist` from two clean clones of HEAD, in two different
# directories, must give byte-identical components. Prints both sha256 digests.
#
# The clones share this checkout's target directory for the host's dependencies (they do not
# enter the component); the plugin itself is rebuilt in each, with its own source paths.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

digests=()
for side in first "second/with a space"; do
    git clone -q "$root" "$work/$side"
    (cd "$work/$side" && env -u DEMA_PUBLISHER_KEY_FILE make -s dist >/dev/null)
    wasm=$(ls "$work/$side"/dist/*.wasm)
    digest=$(sha256sum "$wasm" | cut -d' ' -f1)
    echo "$side: $digest ($(stat -c %s "$wasm") bytes)"
    digests+=("$digest")
done
if [ "${digests[0]}" != "${digests[1]}" ]; then
    echo "not reproducible: the two builds differ" >&2
    exit 1
fi
echo "reproducible"
