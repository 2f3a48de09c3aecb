#!/usr/bin/env bash
# Builds every fuzz target and runs each for a bounded time on its committed seed corpus
# (fuzz/corpus/<target>/), printing libFuzzer's execution count per target. CI runs it from
# scripts/test.sh so the targets can neither rot (API drift breaks the build) nor go unrun.
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 15) each
#   FUZZ_SECONDS=300 scripts/fuzz.sh bencode metainfo
#
# New inputs go to a scratch corpus, never into the committed seeds; a crash is saved under
# fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-15}"
# libFuzzer's default max_len (4096) would never produce the 256 KiB inputs that made the
# bencode decoder quadratic; allow bigger ones without slowing every run down.
max_len="${FUZZ_MAX_LEN:-65536}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

mapfile -t all < <(cargo +nightly fuzz list)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

# One build of every target (release, with debug assertions and overflow checks on).
cargo +nightly fuzz build
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "corpus/$t"
  log="$scratch/$t.log"
  if ! cargo +nightly fuzz run "$t" "$scratch/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $t FAILED (artifact under fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)"
  summary+=("$(printf '%-20s %12s executions  %s' "$t" "${runs:-?}" "$cov")")
  echo "fuzz: $t: ${runs:-?} executions in ${seconds}s ($cov)"
done
echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
