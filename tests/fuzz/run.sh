#!/bin/sh
# Runs each libFuzzer target for SECONDS (default 60) on the seed corpus in
# tests/fuzz/corpus/TARGET, and prints its executions. New inputs the fuzzer finds go to
# BUILD/fuzz-corpus/TARGET (add the interesting ones to the repo by hand); a crash leaves
# its input in BUILD/fuzz-crashes/ and makes this script fail.
# usage: tests/fuzz/run.sh BUILD [SECONDS]
set -u
build=${1:?usage: run.sh BUILD [SECONDS]}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd)
status=0
mkdir -p "$build/fuzz-crashes"
for target in canonical state plan; do
  bin="$build/tests/fuzz/fuzz_$target"
  [ -x "$bin" ] || { echo "fuzz: no $bin (build with make fuzz)"; exit 2; }
  corpus="$build/fuzz-corpus/$target"
  work="$build/fuzz-work/$target"   # the plan target's hooks may make files: not here
  mkdir -p "$corpus" "$work"
  # The examples are seeds of the plan target too (copied, not kept twice in the repo).
  if [ $target = plan ]; then
    for ex in "$here"/../../examples/*/pipeline.lua; do cp "$ex" "$corpus/example-$(basename "$(dirname "$ex")").lua"; done
  fi
  log="$build/fuzz-$target.log"
  case $target in
    state) max_len=65536 ;;
    *) max_len=4096 ;;
  esac
  (cd "$work" && ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=$max_len \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-crashes/$target-" \
      "$corpus" "$here/corpus/$target" >"$log" 2>&1)
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  if [ $rc -eq 0 ]; then
    echo "fuzz_$target: ${execs:-?} executions in ${seconds}s, nothing found"
  else
    status=1
    echo "fuzz_$target: FAILED after ${execs:-?} executions (exit $rc); see $log and $build/fuzz-crashes/"
    grep -m 3 -E "ERROR|SUMMARY|panic|runtime error" "$log"
  fi
done
exit $status
