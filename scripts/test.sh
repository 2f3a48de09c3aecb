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
  [nginx]=nginx
)
missing=()
for cmd in "${!pkgs[@]}"; do
  # nginx lives in /usr/sbin, outside a normal user's PATH.
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${pkgs[$cmd]}")
done
# BitTorrent v2 tests drive libtorrent 2.0 from Debian's python3 (tests/support/lt_peer.py).
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
