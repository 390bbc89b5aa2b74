#!/usr/bin/env bash
# Builds keyseal's libFuzzer targets and runs each for a time.
#   Fuzz/run.sh [SECONDS] [TARGET...]     (default: 600 seconds, every target)
#   FUZZ_JOBS=2 Fuzz/run.sh 600           run two targets at a time
# Corpora and crashes stay under .build-fuzz/ (not committed); a crash stops that target and its
# input is kept as .build-fuzz/crashes/TARGET/crash-*. Each crash found becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
all=(FuzzTar FuzzZip FuzzGzip FuzzDecoders FuzzMatcher FuzzPackIndex FuzzDockerfile FuzzCompose FuzzKubernetes FuzzConfig FuzzBaseline FuzzHookInput FuzzImage FuzzStoreRows FuzzPackDelta FuzzDeltaScan FuzzTreeDiff FuzzCommitHeader)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
scratch=.build-fuzz
# lld: gold fails on the ASan objects. -enable-testing: the targets @testable-import the parsers.
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing -Xswiftc -use-ld=lld)
python3 Fuzz/seeds.py "$scratch/seeds"
for target in "${targets[@]}"; do
  KEYSEAL_FUZZ=1 swift build "${flags[@]}" --product "$target" >&2
done
bin=$(KEYSEAL_FUZZ=1 swift build "${flags[@]}" --show-bin-path)
run_one() {
  local target=$1
  mkdir -p "$scratch/corpus/$target" "$scratch/crashes/$target"
  [ -d "$scratch/seeds/$target" ] && cp -n "$scratch/seeds/$target"/* "$scratch/corpus/$target/" 2>/dev/null || true
  local log="$scratch/logs/$target.log"
  mkdir -p "$scratch/logs"
  # -rss_limit_mb: a parser of a small input must not need much memory; -timeout: nor much time.
  # -detect_leaks=0: TOMLKit leaks a little on every parse (a short-lived process does not care);
  # memory that grows without bound still trips -rss_limit_mb.
  "$bin/$target" "$scratch/corpus/$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -detect_leaks=0 -artifact_prefix="$scratch/crashes/$target/" -print_final_stats=1 >"$log" 2>&1
  local status=$?
  local runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  local crashes=$(ls "$scratch/crashes/$target" | wc -l)
  echo "$target: exit $status, ${runs:-?} runs in ${seconds}s, $crashes crash/timeout/oom input(s)"
}
export -f run_one
# The Swift runtime's backtracer is slow and libFuzzer prints its own report.
export SWIFT_BACKTRACE=enable=no
# libFuzzer's -detect_leaks=0 covers the inputs; ASan would still report the leaks at exit.
export ASAN_OPTIONS=detect_leaks=0
export scratch seconds bin
printf '%s\n' "${targets[@]}" | xargs -P "${FUZZ_JOBS:-1}" -I{} bash -c 'run_one {}'
