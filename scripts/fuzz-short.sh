#!/usr/bin/env bash
# A short fuzz run of every target in fuzz/ (cargo-fuzz and libFuzzer): each target for
# FUZZ_SECONDS seconds (default 30). Seeds: the inputs kept in tests/fuzz_regressions/,
# examples/fluxprobe.yml and, when ../shared/fixtures/flux-api is present, the captured
# responses and the recorded runs. A crash fails the run and leaves its input in
# fuzz/artifacts/<target>/; once fixed, keep it as tests/fuzz_regressions/<target>-<name>.
# The same targets run as property tests in every `cargo test` (tests/fuzz_parsers.rs).
# Exit codes: 0 no crash; 1 a target crashed; 2 the fuzzer cannot be installed or built here.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
read -r -a targets <<< "${FUZZ_TARGETS:-units wire results config}"

if ! command -v cargo-fuzz >/dev/null; then
  echo "-- installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet || { echo "fuzz-short: cannot install cargo-fuzz" >&2; exit 2; }
fi
# libFuzzer's instrumentation needs the compiler's unstable flags: a nightly toolchain where one
# is installed, else the stable compiler told to accept them.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

echo "-- building the fuzz targets"
cargo "${toolchain[@]}" fuzz build --release || { echo "fuzz-short: cannot build the fuzz targets" >&2; exit 2; }

fixtures=../shared/fixtures/flux-api
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus"
  for f in tests/fuzz_regressions/"$t"-*; do
    [ -e "$f" ] && cp "$f" "$corpus/"
  done
  case $t in
    units|wire)
      if [ -d "$fixtures/responses" ]; then
        for f in "$fixtures"/responses/*.json; do
          python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get("body")))' "$f" \
            > "$corpus/fixture-$(basename "$f")"
        done
      fi ;;
    results)
      [ -d "$fixtures/recorded-runs" ] && cp "$fixtures"/recorded-runs/*.json "$corpus/" ;;
    config)
      cp examples/fluxprobe.yml "$corpus/example.yml" ;;
  esac
  echo "-- fuzz $t for ${secs}s ($(find "$corpus" -type f | wc -l) seeds)"
  if ! cargo "${toolchain[@]}" fuzz run --release "$t" "$corpus" -- \
    -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz-short: $t failed; a crashing input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
done
echo "fuzz-short: ${targets[*]}: no crash in ${secs}s each"
