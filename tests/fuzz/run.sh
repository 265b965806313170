#!/usr/bin/env bash
# run.sh: a fuzzing campaign. Runs each libFuzzer target of a -DVLP_FUZZ=ON build for
# SECONDS (one at a time, one process), seeded from the golden data and the committed seeds,
# with its dictionary, and prints one summary line per target (executions, coverage, corpus,
# crashes). The growing corpus stays in BUILD/fuzz-corpus/<target>; crash inputs land in
# BUILD/fuzz-artifacts/<target>/ — fix the bug, then copy the input to
# tests/fuzz/regress/<target>/ so the regression test replays it.
#   tests/fuzz/run.sh BUILD SECONDS [TARGET...]      (default: every target)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tests=$(dirname "$here")
build=${1:?usage: run.sh BUILD SECONDS [TARGET...]}
secs=${2:?usage: run.sh BUILD SECONDS [TARGET...]}
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(png jpeg webp gif bmp tiff heif safetensors npy config
                                     preprocessor tokenizer index video)
export VLP_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz_$t
  [ -x "$bin" ] || { echo "run.sh: $bin missing (build with CC=clang -DVLP_FUZZ=ON)"; exit 2; }
  corpus=$build/fuzz-corpus/$t art=$build/fuzz-artifacts/$t/
  mkdir -p "$corpus" "$art"
  seeds=("$here/seeds/$t") dict=json max_len=65536
  case $t in
    png|jpeg|webp|gif|bmp|tiff|heif)
      seeds=("$tests/data/formats" "$tests/golden/images") dict=$t ;;
    video) seeds=("$tests/golden/video") dict=video max_len=1048576 ;;
    safetensors|npy) dict=$t ;;
    index) dict=npy ;;
  esac
  [ -d "$here/regress/$t" ] && seeds+=("$here/regress/$t")
  log=$build/fuzz-$t.log
  "$bin" "$corpus" "${seeds[@]}" -dict="$here/dict/$dict.dict" \
    -max_total_time="$secs" -max_len=$max_len -timeout=30 -rss_limit_mb=2560 \
    -artifact_prefix="$art" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  eps=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
  # slow-unit-* files are inputs that took over 10 s (large images under the size limit on a
  # busy machine): reported, not failures
  crashes=$(find "$art" -type f ! -name 'slow-unit-*' | wc -l)
  slow=$(find "$art" -type f -name 'slow-unit-*' | wc -l)
  echo "fuzz $t: ${secs}s, ${execs:-?} executions (${eps:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, crashes $crashes, slow units $slow, exit $rc"
  if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    grep -m3 -E "ERROR: |SUMMARY: |runtime error" "$log" | sed 's/^/    /'
  fi
done
exit $failed
