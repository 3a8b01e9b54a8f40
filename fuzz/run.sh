#!/usr/bin/env bash
# Fuzzing (make fuzz): each target of fuzz/fuzz_targets for FUZZ_SECONDS
# (default 20; CI's bounded run), with libFuzzer through cargo-fuzz on the
# nightly toolchain. The targets call servicedb::fuzzing, which asserts
# what each reader promises. Seeds are fuzz/seeds/<target>; what the
# fuzzer learns goes to target/fuzz-corpus (kept between runs, outside the
# clone), a crash to target/fuzz-artifacts/<target>/. A crash fails the run:
# copy the input into fuzz/regressions/<target>/ so that `make unit`
# replays it on stable (tests/fuzz_inputs.rs), then fix it.
#
#   make fuzz                        every target, 20 s each
#   make fuzz FUZZ_SECONDS=600       longer, on demand
#   make fuzz FUZZ_TARGETS=quoting   some targets only
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[fuzz %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SECONDS_EACH=${FUZZ_SECONDS:-20}
TARGETS=${FUZZ_TARGETS:-$(cd fuzz/fuzz_targets && ls ./*.rs | sed 's|^\./||; s|\.rs$||' | tr '\n' ' ')}
TOOLS=${SERVICEDB_CACHE:-$HOME/.cache/servicedb-e2e}/cargo-fuzz
export PATH="$TOOLS/bin:$PATH"

if ! rustup toolchain list | grep -q '^nightly'; then
  say "fuzzing needs the nightly toolchain (libFuzzer's coverage instrumentation); installing it"
  rustup toolchain install nightly --profile minimal || {
    say "cannot install the nightly toolchain: run 'rustup toolchain install nightly' where the Rust dist server is reachable"
    exit 1
  }
fi
if ! command -v cargo-fuzz >/dev/null; then
  say "installing cargo-fuzz into $TOOLS (from crates.io, ~2 minutes, once)"
  cargo install --quiet --locked --root "$TOOLS" cargo-fuzz
fi

# No sanitizer: the targets are safe Rust, and what is sought is a panic
# or a broken promise; the build is then about twice as fast.
fuzz=(cargo +nightly fuzz)
common=(--sanitizer none --target-dir target/fuzz)
say "building the fuzz targets (nightly, release with debug assertions; ~10 minutes the first time on 2 cores)"
"${fuzz[@]}" build "${common[@]}"
failed=()
for t in $TARGETS; do
  corpus=target/fuzz-corpus/$t artifacts=target/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  say "$t: ${SECONDS_EACH}s"
  if "${fuzz[@]}" run "${common[@]}" "$t" "$corpus" "fuzz/seeds/$t" -- \
      -max_total_time="$SECONDS_EACH" -artifact_prefix="$artifacts/" -print_final_stats=1 \
      >"target/fuzz-$t.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "target/fuzz-$t.log" | grep -o '[0-9]*$' || echo "?")
    say "$t: no crash in $runs runs; corpus $(ls "$corpus" | wc -l) inputs"
  else
    say "$t: CRASH (log target/fuzz-$t.log):"
    grep -E "panicked|ERROR|Test unit written" "target/fuzz-$t.log" | head -5 >&2 || tail -20 "target/fuzz-$t.log" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  say "crashes in: ${failed[*]}; inputs in target/fuzz-artifacts/<target>/ (copy them into fuzz/regressions/<target>/)"
  exit 1
fi
say "every target ran ${SECONDS_EACH}s without a crash"
