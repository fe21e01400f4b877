#!/usr/bin/env bash
# Runs the official Python SDK (flipt-client 1.4.5 from PyPI) on this crate's C ABI: builds the
# cdylib with the `ffi` feature, installs the wheel in a fresh venv, replaces the wheel's
# bundled libfliptengine.so with ours, and runs tests/python/official_sdk.py.
# Usage: bash tests/python/run.sh   (Linux x86_64 or aarch64; needs python3 and PyPI)
set -euo pipefail
cd "$(dirname "$0")/../.."
# The engine honours the proxy variables, as the official one does: its loopback test servers
# are reached directly whatever the machine's proxy settings.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
cargo rustc --locked --release --lib --features ffi,gzip --crate-type cdylib
venv=${FLIPT_PY_VENV:-target/python-venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check flipt-client==1.4.5
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
arch=$(uname -m)
case "$arch" in x86_64) dir=linux_x86_64 ;; aarch64|arm64) dir=linux_aarch64 ;; *) echo "unsupported $arch"; exit 1 ;; esac
lib="$site/ext/$dir/libfliptengine.so"
[ -f "$lib" ] || { echo "the wheel has no $lib"; exit 1; }
cp target/release/libflipt_client.so "$lib"
echo "official SDK $("$venv/bin/python" -m pip show flipt-client | sed -n 's/^Version: //p') now loads $(basename "$lib") built from this crate"
"$venv/bin/python" tests/python/official_sdk.py tests/fixtures
