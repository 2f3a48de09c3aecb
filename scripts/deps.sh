#!/usr/bin/env bash
# Dependency audit that needs no network database: sources, licences and banned crates
# (deny.toml says why advisories are not checked here). Installs cargo-deny from crates.io
# when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  echo "deps: installing cargo-deny" >&2
  cargo install cargo-deny --locked
fi
# `--offline` needs every locked crate in the local registry, including other platforms'
# (cargo metadata resolves them all) that no build here downloads: fetch them first.
cargo fetch --locked
cargo deny --offline check --hide-inclusion-graph licenses bans sources
