#!/usr/bin/env bash
# Runs every fuzz target for a number of seconds each (default 60), as many at a time as
# there are CPUs (FUZZ_JOBS), and reports per target how many inputs were executed
# and whether a crash was found. Exits nonzero if any target crashed (a panic, which the
# targets use for a broken promise, a timeout or running out of memory).
#
#   bash fuzz/run.sh [SECONDS]
#
# Environment:
#   FUZZ_SANITIZER      cargo-fuzz's sanitizer (default: none; the crate forbids unsafe
#                       code, and AddressSanitizer costs about 3.5x the executions)
#   FUZZ_TARGETS        the targets to run (default: every target, `cargo fuzz list`)
#   FUZZ_JOBS           how many targets fuzz at once (default: the number of CPUs)
#   EDGEGRAD_FUZZ_SKIP  comma-separated patterns of broken promises to let pass while a
#                       known defect is pending (see fuzz_targets/common.rs)
#
# Needs the nightly toolchain and cargo-fuzz. Corpora grow in fuzz/corpus/<target>, crash
# inputs land in fuzz/artifacts/<target> (both ignored by git); the safetensors corpus is
# seeded with the weight files of tests/data.
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
sanitizer="${FUZZ_SANITIZER:-none}"

start=$(date +%s)
echo "building the fuzz targets (sanitizer: $sanitizer)"
if ! cargo +nightly fuzz build --sanitizer "$sanitizer"; then
  echo "fuzz: build failed" >&2
  exit 2
fi
built=$(date +%s)

targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
mkdir -p corpus/safetensors
if [ -z "$(ls -A corpus/safetensors)" ]; then
  cp ../tests/data/*.safetensors corpus/safetensors/ 2>/dev/null || true
fi

log_dir=$(mktemp -d)
# The targets run FUZZ_JOBS at a time (default: one per CPU), each for the full time.
jobs_max="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
    wait -n
  done
  echo "=== fuzz target $t: ${seconds}s"
  (
    cargo +nightly fuzz run --sanitizer "$sanitizer" "$t" -- \
      -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$log_dir/$t.log" 2>&1
    echo $? >"$log_dir/$t.status"
  ) &
done
wait

failed=()
summary=()
for t in $targets; do
  log="$log_dir/$t.log"
  status=$(cat "$log_dir/$t.status" 2>/dev/null || echo 1)
  # libFuzzer's count: the final statistics, else its last status line (#N ...).
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  if [ -z "$runs" ]; then
    runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  fi
  if [ "$status" -eq 0 ]; then
    result="no crash"
  else
    failed+=("$t")
    artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')
    why=$(grep -m1 -E "BROKEN PROMISE|panicked at|ERROR: libFuzzer: (timeout|out-of-memory)" -A1 "$log" \
      | grep -v -E '^--$|panicked at' | head -1 | cut -c1-300)
    result="CRASH (exit $status): ${why:-see the log} ${artifact:+(input: $artifact)}"
    # The panic and the reproduction command, for the CI log.
    grep -E "BROKEN PROMISE|panicked at|SUMMARY|Test unit written|cargo fuzz run" "$log" | cut -c1-2000 | head -20
  fi
  line=$(printf '%-15s %12s inputs executed  %s' "$t" "${runs:-?}" "$result")
  echo "$line"
  summary+=("$line")
done
end=$(date +%s)

echo
echo "=== fuzzing summary (${seconds}s per target; build $((built - start))s, total $((end - start))s)"
printf '%s\n' "${summary[@]}"
rm -rf "$log_dir"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
