#!/usr/bin/env bash
# The project's test command (README): installs the real peers the tests run against when they
# are missing, then runs format, lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A pkgs=(
  [transmission-cli]=transmission-cli
  [transmission-daemon]=transmission-daemon
  [aria2c]=aria2
  [opentracker]=opentracker
  [mktorrent]=mktorrent
  [tmux]=tmux
)
missing=()
for cmd in "${!pkgs[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkgs[$cmd]}")
done
# libtorrent's Python bindings (tests/encryption.rs) are a module, not a command.
/usr/bin/python3 -c 'import libtorrent' >/dev/null 2>&1 || missing+=(python3-libtorrent)
if ((${#missing[@]})); then
  echo "installing test dependencies: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
