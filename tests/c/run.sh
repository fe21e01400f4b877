#!/usr/bin/env bash
# Builds the C ABI (cdylib, `ffi` feature) and runs tests/c/engine_smoke.c against it under
# valgrind: every function and *_ffi twin, good and bad input, no leak or memory error.
# Usage: bash tests/c/run.sh   (needs cc, python3 and valgrind; Linux)
set -euo pipefail
cd "$(dirname "$0")/../.."
# The engine honours the proxy variables, as the official one does: its loopback test servers
# are reached directly whatever the machine's proxy settings.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
cargo rustc --locked --release --lib --features ffi,gzip --crate-type cdylib
cc -O1 -g -Wall -Wextra -Werror -o target/engine_smoke tests/c/engine_smoke.c -ldl
# A seed of the bundled snapshot, in the engine's get_snapshot format.
seed=target/engine-smoke-seed.b64
echo '{"type":"snapshot"}' |
  cargo run --quiet --locked --example evaluate -- --snapshot examples/data/snapshot.json --requests - |
  python3 -c 'import base64, json, sys; print(base64.b64encode(json.dumps(json.load(sys.stdin)["result"]).encode()).decode())' > "$seed"
# Nothing listens on port 1: the engine runs on its seed under the fallback strategy.
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect \
  target/engine_smoke target/release/libflipt_client.so http://127.0.0.1:1 "$seed"
