#!/usr/bin/env bash
# Compiles the vault contracts (contracts/src/*.sol) with the pinned solcjs from
# contracts/package.json into DIR (default contracts/build): DIR/TestToken.bin and
# DIR/LedgerVault.bin, the creation bytecode in hex. The binary embeds contracts/build/*.bin
# (so `demo --chain` can deploy where no compiler is installed); tests/chain.rs compiles again
# into a temporary DIR and checks the committed files match the source.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-contracts/build}"
solc=contracts/node_modules/.bin/solcjs
if [ ! -x "$solc" ]; then
  (cd contracts && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Compiled from inside contracts/src so the source paths in the metadata (and so the bytecode)
# do not depend on where the repository is checked out.
(cd contracts/src && "../node_modules/.bin/solcjs" --bin --optimize -o "$tmp" TestToken.sol LedgerVault.sol >&2)
mkdir -p "$out"
cp "$tmp/TestToken_sol_TestToken.bin" "$out/TestToken.bin"
cp "$tmp/LedgerVault_sol_LedgerVault.bin" "$out/LedgerVault.bin"
