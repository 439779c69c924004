#!/usr/bin/env bash
# A plugin author's round trip with the anywasm CLI: scaffold a plugin,
# build it for wasm32, run its tests on every engine, sign it, and load the
# signed plugin the way a host does (signatures required).
#
#   examples/author_round_trip.sh [WORK_DIR]
#
# Needs the `anywasm` binary: `cargo install --path crates/cli`, or set
# ANYWASM to a built one (e.g. target/debug/anywasm). WORK_DIR (default: a
# new temporary directory) receives the plugin crate, its key pair and a
# plugin directory. `anywasm new` makes the crate depend on the checkout
# the binary was built from. ANYWASM_TEST_ARGS (e.g. "--no-default-features
# --features wasmi") is passed to `cargo test`, to test on fewer engines.
set -euo pipefail

anywasm="${ANYWASM:-anywasm}"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
cd "$work"

echo "== anywasm new demo"
"$anywasm" new demo
cd demo

echo "== anywasm build --release"
"$anywasm" build --release
wasm="${CARGO_TARGET_DIR:-target}/anywasm/demo.wasm"

echo "== cargo test (each test once per engine)"
# ANYWASM_TEST_ARGS, e.g. "--no-default-features --features wasmi", tests on fewer engines.
# shellcheck disable=SC2086
cargo test ${ANYWASM_TEST_ARGS:-}

echo "== anywasm inspect"
"$anywasm" inspect "$wasm"

echo "== anywasm keygen, sign, verify"
"$anywasm" keygen --out ../demo.key --force
"$anywasm" sign "$wasm" --key ../demo.key
"$anywasm" verify "$wasm" --pubkey ../demo.key.pub

echo "== a host loads it, signatures required"
mkdir -p ../plugins
cp "$wasm" "$wasm.sig" ../plugins/
"$anywasm" plugins ../plugins --grant log --trust-key ../demo.key.pub --require-signatures
