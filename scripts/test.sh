#!/usr/bin/env bash
# The project's test command (README): installs the real peers the tests run against when they
# are missing, then runs format, lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A pkgs=(
  [transmission-cli]=transmission-cli
  [transmission-remote]=transmission-cli
  [transmission-daemon]=transmission-daemon
  [aria2c]=aria2
  [opentracker]=opentracker
  [mktorrent]=mktorrent
  [tmux]=tmux
  [nginx]=nginx
  [node]=nodejs
  [npm]=npm
  # tests/utp_yield.rs: network namespaces, veth pairs and a tbf bottleneck.
  [ip]=iproute2
  [tc]=iproute2
)
missing=()
for cmd in "${!pkgs[@]}"; do
  # nginx lives in /usr/sbin, outside a normal user's PATH.
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${pkgs[$cmd]}")
done
# PostgreSQL for the ledger tests: only the binaries are needed (/usr/lib/postgresql/*/bin);
# each test starts its own temporary cluster on loopback, so no system cluster is started.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# BitTorrent v2 tests drive libtorrent 2.0 from Debian's python3 (tests/support/lt_peer.py).
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || missing+=(python3-libtorrent)
if ((${#missing[@]})); then
  echo "installing test dependencies: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # Packages must not start system services (a PostgreSQL cluster, nginx on port 80, a
  # transmission-daemon): the tests start their own on loopback. Deny service starts while
  # installing (only when no policy is in place already).
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((added_policy)); then $sudo rm -f "$policy"; fi
fi

# The chain tests' local EVM node (anvil) and Solidity compiler (solcjs), pinned by
# contracts/package-lock.json. Install scripts are skipped: anvil's binary comes in its
# platform package, and nothing else needs a script.
if [ ! -x contracts/node_modules/.bin/anvil ] || [ ! -x contracts/node_modules/.bin/solcjs ]; then
  (cd contracts && npm ci --ignore-scripts --no-audit --no-fund)
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
# Every test; the tally is printed again at the very end, after fuzzing and the dependency
# check, so the run closes on what the tests did.
test_log="$(mktemp)"
trap 'rm -f "$test_log"' EXIT
# --no-fail-fast: one run reports every failing test binary, not only the first.
cargo test --no-fail-fast 2>&1 | tee "$test_log"
# Every fuzz target builds and runs for a bounded time on its seed corpus (nightly).
scripts/fuzz.sh
# Dependency policy without a network advisory database (see deny.toml for why).
scripts/deps.sh
read -r passed failed < <(awk '/^test result:/ {p += $4; f += $6} END {print p + 0, f + 0}' "$test_log")
echo "tests: ${passed} passed, ${failed} failed"
