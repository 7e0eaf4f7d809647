#!/usr/bin/env bash
# Long soak: one `fluxprobe serve` probes instant simulators (time scale 0, 8 GPUs each, every one
# its own `fluxprobe simulate` process) as fast as its trickle allows, while every fault of the
# simulator takes its turn, until fluxprobe_requests_total, summed over the targets, reaches
# PROBES. The faults are switched at run time over each simulator's control endpoint
# (PUT /_sim/faults and PUT /_sim/gpus), as tests/serve_soak.rs does; the GPU list shrinks from 8
# to 2 on every other fault. At the end of each cycle the GPU lists are renewed (0, then 8 new
# GPUs), which frees the VRAM leaked under vram_leak.
#
# A cycle is the 14 faults in turn, then a healthy phase; cycles run whole, and the soak stops at
# the end of the first cycle that brings the count to PROBES. Each phase starts SETTLE_SECONDS
# after its switch (so that probes sent before it have ended) and lasts until the daemon has made
# PHASE_PROBES probes (and at least PHASE_MIN_SECONDS, at most PHASE_MAX_SECONDS). At the end of
# each healthy phase (a checkpoint, the same point of every cycle) the script reads the daemon's
# VmRSS and RssAnon (/proc/PID/status), open descriptors (/proc/PID/fd), threads
# (/proc/PID/status; the daemon exports no count of tokio tasks, which only an in-process test
# can read) and series (sample lines of /metrics). It also reads them every MARK_EVERY probes,
# whatever fault is in force.
#
# Every phase must leave its mark on the counters (e.g. http_5xx under error_rate, timeout under
# hang_rate, target_ready 0 under health=loading, no GPU memory gauge under "N/A" or null
# figures, 2 GPUs where the list shrank); a fault that left none is a failure. The soak fails
# (exit 1) when the daemon or a simulator dies, when PROBES is not reached within
# MAX_WAIT_SECONDS, when a phase's mark is missing, or when, from the first checkpoint after the
# warm-up cycle to the last, VmRSS grows by more than RSS_TOLERANCE_PCT %, open descriptors by
# more than FD_TOLERANCE, or series by more than SERIES_TOLERANCE. The descriptors move without
# any leak: each target pools up to MAX_IN_FLIGHT + 4 (burst) connections for probes and 4 for
# status scrapes, and how many are open at a checkpoint depends on what the last faults closed.
# Prints Markdown tables: checkpoints, marks, every phase, outcomes per fault, outcome totals.
# Not part of the test suite. Only 127.0.0.1 is used.
#
# Usage: benches/soak_long.sh
#        PROBES=5000000 MAX_WAIT_SECONDS=7200 benches/soak_long.sh
# Environment (defaults): FLUXPROBE_BIN (build target/release/fluxprobe), PROBES (1000000),
# MAX_WAIT_SECONDS (2400), SIMULATORS (3), GENERATE_TARGETS (2 per simulator), QUEUE_TARGETS
# (1 per simulator, mode: queue), INTERVAL (1ms, trickle per target), MAX_IN_FLIGHT (8),
# TIMEOUT (300ms), POLL_INTERVAL (2ms, queue mode), STATUS_INTERVAL (50ms), PHASE_PROBES (5000),
# PHASE_MIN_SECONDS (1), HEALTHY_MIN_SECONDS (3), PHASE_MAX_SECONDS (120), SETTLE_SECONDS (0.5,
# after each switch, before the phase's counting starts), MARK_EVERY (100000), RSS_TOLERANCE_PCT
# (10), FD_TOLERANCE (64), SERIES_TOLERANCE (0).
set -euo pipefail
cd "$(dirname "$0")/.."

PROBES=${PROBES:-1000000}
MAX_WAIT_SECONDS=${MAX_WAIT_SECONDS:-2400}
SIMULATORS=${SIMULATORS:-3}
GENERATE_TARGETS=${GENERATE_TARGETS:-2}
QUEUE_TARGETS=${QUEUE_TARGETS:-1}
INTERVAL=${INTERVAL:-1ms}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-8}
TIMEOUT=${TIMEOUT:-300ms}
POLL_INTERVAL=${POLL_INTERVAL:-2ms}
STATUS_INTERVAL=${STATUS_INTERVAL:-50ms}
PHASE_PROBES=${PHASE_PROBES:-5000}
PHASE_MIN_SECONDS=${PHASE_MIN_SECONDS:-1}
HEALTHY_MIN_SECONDS=${HEALTHY_MIN_SECONDS:-3}
SETTLE_SECONDS=${SETTLE_SECONDS:-0.5}
PHASE_MAX_SECONDS=${PHASE_MAX_SECONDS:-120}
MARK_EVERY=${MARK_EVERY:-100000}
RSS_TOLERANCE_PCT=${RSS_TOLERANCE_PCT:-10}
FD_TOLERANCE=${FD_TOLERANCE:-64}
SERIES_TOLERANCE=${SERIES_TOLERANCE:-0}
GPUS=8
SHRUNK_GPUS=2
# A huge body is 4 times the body cap.
MAX_BODY=64KiB
HUGE_BODY_BYTES=262144
BURST_SCHEDULE='*/2 * * * * *'
POLL_SECONDS=0.5

if [ -n "${FLUXPROBE_BIN:-}" ]; then
  BIN=$FLUXPROBE_BIN
else
  cargo build --release --locked --quiet --bin fluxprobe
  BIN=${CARGO_TARGET_DIR:-target}/release/fluxprobe
fi
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
SIM_PIDS=()
SIM_URLS=()
DAEMON=""
FAILURES=()

# shellcheck source=benches/common.sh
. benches/common.sh

log() { echo "[soak_long $(date +%T)] $*" >&2; }
fail() {
  FAILURES+=("$*")
  log "FAIL: $*"
}

threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# a >= b, for decimals.
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }
since() { awk -v t0="$1" -v t1="$(now)" 'BEGIN {printf "%.0f", t1 - t0}'; }
# Thousands separators for the tables.
num() { awk -v n="$1" 'BEGIN {s = sprintf("%.0f", n); o = ""; while (length(s) > 3) {o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3)} print s o}'; }

probes_in() { metric_sum "$1" fluxprobe_requests_total; }

# Boils a scrape down to "key value" lines: probes, failures and HTTP answers by reason and code,
# successes and failures by the histogram's outcome label, skipped probes, and the status side
# (target_up / target_ready / target_gpus / stats scrapes: count, sum, min, max), parse errors,
# VRAM allocated, series.
summarize() {
  awk '
    function lab(line, key,    i) {
      if (match(line, key "=\"[^\"]*\"")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 3)
      return ""
    }
    function gauge(key, v) {
      n[key]++; s[key] += v
      if (!(key in mn) || v < mn[key]) mn[key] = v
      if (!(key in mx) || v > mx[key]) mx[key] = v
    }
    /^#/ || NF == 0 {next}
    {
      series++
      name = $1; sub(/\{.*/, "", name); v = $NF + 0
      if (name == "fluxprobe_requests_total") c["requests"] += v
      else if (name == "fluxprobe_request_failures_total") c["reason_" lab($0, "reason")] += v
      else if (name == "fluxprobe_http_responses_total") c["code_" lab($0, "code")] += v
      else if (name == "fluxprobe_request_duration_seconds_count") c["hist_" lab($0, "outcome")] += v
      else if (name == "fluxprobe_probes_skipped_total") c["skipped"] += v
      else if (name == "fluxprobe_target_parse_errors_total") c["parse_errors"] += v
      else if (name == "fluxprobe_target_gpu_memory_allocated_bytes") c["allocated"] += v
      if (name == "fluxprobe_target_gpu_memory_total_bytes") gauge("gpu_total", v)
      else if (name == "fluxprobe_target_up") gauge("up", v)
      else if (name == "fluxprobe_target_ready") gauge("ready", v)
      else if (name == "fluxprobe_target_gpus") gauge("gpus", v)
      else if (name == "fluxprobe_target_stats_scrape_success") gauge("scrape", v)
    }
    END {
      for (k in c) printf "%s %.0f\n", k, c[k]
      for (k in n) printf "%s_n %d\n%s_sum %.0f\n%s_min %.0f\n%s_max %.0f\n", k, n[k], k, s[k], k, mn[k], k, mx[k]
      printf "series %d\n", series
    }' "$1" >"$2"
}
# A value of a summary (0 when absent).
val() { awk -v k="$2" '$1 == k {v = $2; found = 1} END {print found ? v : 0}' "$1"; }
# A counter's growth between two summaries.
delta() { echo $(($(val "$2" "$3") - $(val "$1" "$3"))); }

REASONS="timeout connect tls transport http_4xx http_429 http_5xx rejected invalid_body body_too_large not_ready aborted"

# The nonzero outcomes between two summaries, "success N, http_5xx M, …". Successes are read
# from the response-time histogram's outcome="success" count: a scrape reads the families one
# after the other while probes end, so fluxprobe_requests_total less the failures can be off by
# the few probes that ended in between.
outcomes() {
  local r d out=""
  for r in $REASONS; do
    d=$(delta "$1" "$2" "reason_$r")
    if [ "$d" -gt 0 ]; then out="${out:+$out, }$r $(num "$d")"; fi
  done
  echo "success $(num "$(delta "$1" "$2" hist_success)")${out:+, $out}"
}

# Simulators, 8 GPUs each, instant answers.
for _ in $(seq "$SIMULATORS"); do
  port=$(free_port)
  "$BIN" simulate --listen "127.0.0.1:$port" --time-scale 0 --gpus "$GPUS" >"$WORK/sim-$port.log" 2>&1 &
  PIDS+=("$!")
  SIM_PIDS+=("$!")
  SIM_URLS+=("http://127.0.0.1:$port")
  wait_url "http://127.0.0.1:$port/health"
done

# Sets the faults (a JSON object of the simulator's Faults; missing fields are off) and the GPU
# count on every simulator.
put_json() { curl -sf --max-time 5 -o /dev/null -X PUT -H 'content-type: application/json' -d "$2" "$1"; }
set_faults() {
  local u
  for u in "${SIM_URLS[@]}"; do
    put_json "$u/_sim/faults" "$1"
    put_json "$u/_sim/gpus" "{\"gpus\": $2}"
  done
}

# VRAM leaked under vram_leak stays on the GPUs it was leaked on (GPUs 0 and 1, the ones the list
# keeps when it shrinks), and after some cycles every generation there would fail out of memory.
# A new GPU list (none, then GPUS fresh ones with the model loaded) ends it at each cycle's end.
renew_gpus() {
  local u
  for u in "${SIM_URLS[@]}"; do
    put_json "$u/_sim/gpus" '{"gpus": 0}'
    put_json "$u/_sim/gpus" "{\"gpus\": $GPUS}"
  done
}

# The daemon: per simulator GENERATE_TARGETS targets in generate mode and QUEUE_TARGETS in queue
# mode, each with a trickle every INTERVAL and a burst every 2 s.
TARGETS=$((SIMULATORS * (GENERATE_TARGETS + QUEUE_TARGETS)))
DAEMON_PORT=$(free_port)
{
  echo "listen: 127.0.0.1:$DAEMON_PORT"
  echo "grace_period: 1s"
  echo "defaults:"
  echo "  timeout: $TIMEOUT"
  echo "  max_in_flight: $MAX_IN_FLIGHT"
  echo "  max_body_bytes: $MAX_BODY"
  echo "  status_interval: $STATUS_INTERVAL"
  echo "  poll_interval: $POLL_INTERVAL"
  echo "  trickle: {interval: $INTERVAL, jitter: 0s}"
  echo "targets:"
  for s in $(seq 0 $((SIMULATORS - 1))); do
    for kind in generate queue; do
      count=$GENERATE_TARGETS
      [ "$kind" = queue ] && count=$QUEUE_TARGETS
      for i in $(seq 0 $((count - 1))); do
        echo "  - name: sim$s-$kind$i"
        echo "    url: ${SIM_URLS[$s]}"
        echo "    mode: $kind"
        echo "    bursts:"
        echo "      - {name: burst, schedule: '$BURST_SCHEDULE', requests: 20, concurrency: 4}"
      done
    done
  done
} >"$WORK/soak.yml"
"$BIN" serve --config "$WORK/soak.yml" >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
PIDS+=("$DAEMON")
DAEMON_URL="http://127.0.0.1:$DAEMON_PORT"
wait_url "$DAEMON_URL/-/ready"

alive() {
  local p
  kill -0 "$DAEMON" 2>/dev/null || { fail "the daemon exited"; return 1; }
  for p in "${SIM_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null || { fail "simulator $p exited"; return 1; }
  done
}

# Every fault of the simulator, one a phase: "name|faults JSON".
PHASES=(
  "error_rate 0.5|{\"error_rate\": 0.5}"
  "hang_rate 0.3|{\"hang_rate\": 0.3}"
  "reset_rate 0.5|{\"reset_rate\": 0.5}"
  "malformed_rate 0.5|{\"malformed_rate\": 0.5}"
  "huge_body_rate 0.5 (256 KiB)|{\"huge_body_rate\": 0.5, \"huge_body_bytes\": $HUGE_BODY_BYTES}"
  "queue_full|{\"queue_full\": true}"
  "health loading|{\"health\": \"loading\"}"
  "health error|{\"health\": \"error\"}"
  "figures N/A|{\"figures\": \"not_available\"}"
  "figures null|{\"figures\": \"null\"}"
  "down|{\"down\": true}"
  "status_fail_rate 0.5|{\"status_fail_rate\": 0.5}"
  "validation_error|{\"validation_error\": true}"
  "vram_leak 1 MiB/generation|{\"vram_leak_mib_per_generation\": 1.0}"
)
HEALTHY="healthy"

# The mark a phase must leave (between the summaries at its start and end). Prints what is
# missing, nothing when all is there.
check_mark() {
  local name=$1 a=$2 b=$3 gpus=$4 missing=()
  local ok r failed=0
  ok=$(delta "$a" "$b" hist_success)
  for r in $REASONS; do failed=$((failed + $(delta "$a" "$b" "reason_$r"))); done
  need() { [ "$(delta "$a" "$b" "reason_$1")" -gt 0 ] || missing+=("no $1"); }
  case "$name" in
    "error_rate"*) need http_5xx ;;
    "hang_rate"*) need timeout ;;
    "reset_rate"*) need transport ;;
    "malformed_rate"*) need invalid_body ;;
    "huge_body_rate"*) need body_too_large ;;
    "queue_full") [ "$QUEUE_TARGETS" -eq 0 ] || need rejected ;;
    "health loading" | "health error")
      [ "$(val "$b" ready_max)" -eq 0 ] && [ "$(val "$b" ready_n)" -gt 0 ] || missing+=("target_ready not 0 everywhere")
      ;;
    "figures"*)
      # The figures are absent, never 0; "N/A" is also counted as a parse error.
      [ "$(val "$b" gpu_total_n)" -eq 0 ] || missing+=("$(val "$b" gpu_total_n) GPU memory gauges")
      [ "$name" != "figures N/A" ] || [ "$(delta "$a" "$b" parse_errors)" -gt 0 ] || missing+=("no parse error counted")
      ;;
    "down")
      [ "$(val "$b" up_max)" -eq 0 ] || missing+=("target_up not 0 everywhere")
      [ "$ok" -eq 0 ] || missing+=("$ok successes from a down server")
      ;;
    "status_fail_rate"*) [ "$(val "$b" scrape_sum)" -lt "$(val "$b" scrape_n)" ] || missing+=("no failed stats scrape") ;;
    "validation_error")
      need http_4xx
      [ "$ok" -eq 0 ] || missing+=("$ok successes while every generation answers 422")
      ;;
    "vram_leak"*) [ "$(delta "$a" "$b" allocated)" -gt 0 ] || missing+=("allocated VRAM did not grow") ;;
    "$HEALTHY")
      [ "$failed" -eq 0 ] || missing+=("$failed failures while healthy")
      [ "$(val "$b" ready_min)" -eq 1 ] && [ "$(val "$b" ready_n)" -eq "$TARGETS" ] || missing+=("a target not ready")
      ;;
  esac
  # Every fault but the ones that make a generation impossible leaves some successes.
  case "$name" in
    "down" | "validation_error") ;;
    *) [ "$ok" -gt 0 ] || missing+=("no success") ;;
  esac
  # The GPU list follows the simulators (where /gpu-info answered and was read).
  if [ "$name" != "down" ] && [ "$(val "$b" gpus_n)" -gt 0 ]; then
    [ "$(val "$b" gpus_min)" -eq "$gpus" ] && [ "$(val "$b" gpus_max)" -eq "$gpus" ] ||
      missing+=("target_gpus $(val "$b" gpus_min)..$(val "$b" gpus_max), not $gpus")
  elif [ "$name" != "down" ]; then
    missing+=("no target_gpus")
  fi
  [ "${#missing[@]}" -eq 0 ] || (
    IFS=';'
    echo "${missing[*]}"
  )
}

T0=$(now)
DEADLINE=$(awk -v t="$T0" -v w="$MAX_WAIT_SECONDS" 'BEGIN {printf "%.0f", t + w}')
NEXT_MARK=$MARK_EVERY
N=0
PHASE_NO=0
echo "| # | fault | GPUs | probes | s | outcomes | mark | VmRSS (RssAnon) MiB | fds | threads | series |" >"$WORK/phases.md"
echo "|---|---|---|---|---|---|---|---|---|---|---|" >>"$WORK/phases.md"
: >"$WORK/marks.md"
: >"$WORK/checkpoints.tsv"
: >"$WORK/per_fault.tsv"

# The footprint now: "VmRSS_KiB RssAnon_KiB fds threads".
footprint() { echo "$(rss_kib "$DAEMON") $(anon_kib "$DAEMON") $(fds "$DAEMON") $(threads "$DAEMON")"; }

# Runs one phase. Args: name, faults JSON, GPU count, least seconds.
run_phase() {
  local name=$1 json=$2 gpus=$3 least=$4 t0 n0 elapsed rss anon fd th series missing r
  PHASE_NO=$((PHASE_NO + 1))
  set_faults "$json" "$gpus" || {
    fail "could not set the faults of phase $PHASE_NO ($name)"
    return 1
  }
  # Probes sent before the switch finish within the timeout; the phase counts what follows.
  sleep "$SETTLE_SECONDS"
  scrape "$WORK/start.prom" || {
    fail "no /metrics"
    return 1
  }
  summarize "$WORK/start.prom" "$WORK/start.sum"
  t0=$(now)
  n0=$(val "$WORK/start.sum" requests)
  while :; do
    sleep "$POLL_SECONDS"
    alive || return 1
    scrape "$WORK/now.prom" || {
      fail "no /metrics"
      return 1
    }
    N=$(probes_in "$WORK/now.prom")
    elapsed=$(awk -v t0="$t0" -v t1="$(now)" 'BEGIN {printf "%.1f", t1 - t0}')
    while [ "$N" -ge "$NEXT_MARK" ]; do
      read -r rss anon fd th <<<"$(footprint)"
      series=$(awk '!/^#/ && NF' "$WORK/now.prom" | wc -l)
      echo "| $(num "$N") | $(since "$T0") | $name | $(mib "$rss") ($(mib "$anon")) | $fd | $th | $series |" >>"$WORK/marks.md"
      log "mark: $N probes, VmRSS $(mib "$rss") MiB, $fd fds, $th threads, $series series ($name)"
      NEXT_MARK=$((NEXT_MARK + MARK_EVERY))
    done
    ge "$elapsed" "$PHASE_MAX_SECONDS" && break
    ge "$elapsed" "$least" && [ $((N - n0)) -ge "$PHASE_PROBES" ] && break
  done
  scrape "$WORK/end.prom" || {
    fail "no /metrics"
    return 1
  }
  summarize "$WORK/end.prom" "$WORK/end.sum"
  N=$(val "$WORK/end.sum" requests)
  read -r rss anon fd th <<<"$(footprint)"
  series=$(val "$WORK/end.sum" series)
  missing=$(check_mark "$name" "$WORK/start.sum" "$WORK/end.sum" "$gpus")
  [ -z "$missing" ] || fail "phase $PHASE_NO ($name): $missing"
  echo "| $PHASE_NO | $name | $gpus | $(num $((N - n0))) | $(since "$t0") | $(outcomes "$WORK/start.sum" "$WORK/end.sum") | ${missing:-ok} | $(mib "$rss") ($(mib "$anon")) | $fd | $th | $series |" >>"$WORK/phases.md"
  {
    echo "$name	requests	$(delta "$WORK/start.sum" "$WORK/end.sum" requests)"
    echo "$name	success	$(delta "$WORK/start.sum" "$WORK/end.sum" hist_success)"
    for r in $REASONS; do echo "$name	$r	$(delta "$WORK/start.sum" "$WORK/end.sum" "reason_$r")"; done
    echo "$name	phases	1"
  } >>"$WORK/per_fault.tsv"
  LAST_FOOTPRINT="$N $rss $anon $fd $th $series"
  log "phase $PHASE_NO ($name, $gpus GPUs): $((N - n0)) probes in $(since "$t0") s; $(outcomes "$WORK/start.sum" "$WORK/end.sum"); ${missing:-ok}; VmRSS $(mib "$rss") MiB, $fd fds, $th threads, $series series"
}

# Warm-up: healthy until every target has been probed and its status read.
log "$SIMULATORS simulator(s), $TARGETS targets ($GENERATE_TARGETS generate + $QUEUE_TARGETS queue per simulator), trickle every $INTERVAL, max_in_flight $MAX_IN_FLIGHT, timeout $TIMEOUT; until $PROBES probes (at most ${MAX_WAIT_SECONDS}s)"
run_phase "$HEALTHY" "{}" "$GPUS" "$HEALTHY_MIN_SECONDS"
echo "0	$LAST_FOOTPRINT	$(since "$T0")" >>"$WORK/checkpoints.tsv"

CYCLE=0
stop=""
while [ -z "$stop" ]; do
  CYCLE=$((CYCLE + 1))
  i=0
  for p in "${PHASES[@]}"; do
    gpus=$GPUS
    [ $((i % 2)) -eq 1 ] && gpus=$SHRUNK_GPUS
    run_phase "${p%%|*}" "${p#*|}" "$gpus" "$PHASE_MIN_SECONDS" || {
      stop=died
      break
    }
    i=$((i + 1))
    if [ "$(date +%s)" -ge "$DEADLINE" ]; then
      stop=deadline
      break
    fi
  done
  [ "$stop" = died ] && break
  if ! renew_gpus; then
    fail "could not renew the GPU lists"
    stop=failed
    break
  fi
  run_phase "$HEALTHY" "{}" "$GPUS" "$HEALTHY_MIN_SECONDS" || {
    stop=died
    break
  }
  echo "$CYCLE	$LAST_FOOTPRINT	$(since "$T0")" >>"$WORK/checkpoints.tsv"
  [ "$N" -ge "$PROBES" ] && stop=${stop:-probes}
  [ "$(date +%s)" -ge "$DEADLINE" ] && stop=${stop:-deadline}
done
WALL=$(since "$T0")
[ "$stop" = deadline ] && fail "stopped at the ${MAX_WAIT_SECONDS}s bound with $N probes (PROBES $PROBES)"

FINAL_SUM=$WORK/final.sum
if [ "$stop" != died ]; then
  scrape "$WORK/final.prom"
  summarize "$WORK/final.prom" "$FINAL_SUM"
  DAEMON_LOG_LINES=$(wc -l <"$WORK/daemon.log")
  DAEMON_WARNINGS=$(awk '/ WARN | ERROR /' "$WORK/daemon.log" | wc -l)
fi

# --- Flatness: first checkpoint after the warm-up cycle against the last ----------------------
B_RSS=0 B_FD=0 B_SERIES=0 L_RSS=0 L_FD=0 L_SERIES=0
read -r _ _ B_RSS _ B_FD _ B_SERIES _ < <(awk -F'\t' '$1 == 1' "$WORK/checkpoints.tsv" | tr '\t' ' ') || true
read -r _ _ L_RSS _ L_FD _ L_SERIES _ < <(tail -n 1 "$WORK/checkpoints.tsv" | tr '\t' ' ') || true
CHECKPOINTS=$(wc -l <"$WORK/checkpoints.tsv")
if [ "$CHECKPOINTS" -lt 3 ]; then
  fail "only $((CHECKPOINTS - 1)) cycle(s): no checkpoint after the warm-up cycle to compare with"
else
  RSS_LIMIT=$((B_RSS + B_RSS * RSS_TOLERANCE_PCT / 100))
  [ "$L_RSS" -le "$RSS_LIMIT" ] ||
    fail "VmRSS grew from $(mib "$B_RSS") to $(mib "$L_RSS") MiB (tolerance $RSS_TOLERANCE_PCT %)"
  [ "$L_FD" -le $((B_FD + FD_TOLERANCE)) ] ||
    fail "open descriptors grew from $B_FD to $L_FD (tolerance $FD_TOLERANCE)"
  [ "$L_SERIES" -le $((B_SERIES + SERIES_TOLERANCE)) ] ||
    fail "series grew from $B_SERIES to $L_SERIES (tolerance $SERIES_TOLERANCE)"
fi

# --- Report ------------------------------------------------------------------------------------
echo
echo "fluxprobe long soak: $(num "$N") probes in $WALL s ($CYCLE cycle(s) of ${#PHASES[@]} faults + healthy); $TARGETS targets on $SIMULATORS simulator process(es) at time scale 0 with $GPUS GPUs; trickle every $INTERVAL per target, max_in_flight $MAX_IN_FLIGHT, timeout $TIMEOUT, bursts of 20 every 2 s; $(nproc) cores shared by the daemon, the simulators and curl; load average at start $LOAD0"
echo
echo "Checkpoints (end of each healthy phase; 0 is the warm-up before any fault, 1 the baseline):"
echo
echo "| checkpoint | after cycle | probes | s | VmRSS (RssAnon) MiB | open fds | threads | series |"
echo "|---|---|---|---|---|---|---|---|"
awk -F'\t' '{split($2, f, " "); printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", NR - 1, $1, f[1], $3, f[2], f[3], f[4], f[5], f[6]}' "$WORK/checkpoints.tsv" |
  while IFS=$'\t' read -r k cyc n t rss anon fd th series; do
    echo "| $k | $cyc | $(num "$n") | $t | $(mib "$rss") ($(mib "$anon")) | $fd | $th | $series |"
  done
echo
echo "Every $(num "$MARK_EVERY") probes, whatever fault was in force:"
echo
echo "| probes | s | fault in force | VmRSS (RssAnon) MiB | open fds | threads | series |"
echo "|---|---|---|---|---|---|---|"
cat "$WORK/marks.md"
echo
echo "Every phase (outcomes counted by the daemon during the phase):"
echo
cat "$WORK/phases.md"
echo
echo "Outcomes per fault, over all its phases:"
echo
echo "| fault | phases | probes | success | failures by reason |"
echo "|---|---|---|---|---|"
awk -F'\t' -v reasons="$REASONS" '
  function commas(n,    s, o) {
    s = sprintf("%.0f", n); o = ""
    while (length(s) > 3) {o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3)}
    return s o
  }
  !($1 in seen) {seen[$1] = 1; order[++k] = $1}
  {v[$1, $2] += $3; if ($3 > 0) r[$1, $2] = 1}
  END {
    for (i = 1; i <= k; i++) {
      x = order[i]; out = ""
      m = split(reasons, rs, " ")
      for (j = 1; j <= m; j++) if ((x, rs[j]) in r) out = out (out == "" ? "" : ", ") rs[j] " " commas(v[x, rs[j]])
      printf "%s\t%d\t%d\t%d\t%s\n", x, v[x, "phases"], v[x, "requests"], v[x, "success"], (out == "" ? "—" : out)
    }
  }' "$WORK/per_fault.tsv" | while IFS=$'\t' read -r x ph n ok out; do
  echo "| $x | $ph | $(num "$n") | $(num "$ok") | $out |"
done
if [ -f "$FINAL_SUM" ]; then
  TOTAL=$(val "$FINAL_SUM" requests)
  FAILED=0
  OUT=""
  for r in $REASONS; do
    d=$(val "$FINAL_SUM" "reason_$r")
    FAILED=$((FAILED + d))
    OUT="$OUT | $(num "$d")"
  done
  echo
  SUCCESS=$(val "$FINAL_SUM" hist_success)
  # The final scrape ends a healthy phase: the failure counters stand still, and the only
  # difference is the probes that ended while the scrape read the families one after the other
  # (in no set order), counted in fluxprobe_requests_total or in the histogram but not both yet.
  # More than can be in flight at once would be a count lost or doubled.
  BETWEEN=$((TOTAL - FAILED - SUCCESS))
  IN_FLIGHT_MAX=$((TARGETS * (MAX_IN_FLIGHT + 4)))
  echo "Outcome totals at the end (success from the response-time histogram, failures from fluxprobe_request_failures_total by reason):"
  echo
  echo "| probes | success | ${REASONS// / | } | probes less outcomes (scrape skew) | skipped at max_in_flight |"
  echo "|---$(for _ in $REASONS; do printf '|---'; done)|---|---|---|"
  echo "| $(num "$TOTAL") | $(num "$SUCCESS")$OUT | $BETWEEN | $(num "$(val "$FINAL_SUM" skipped)") |"
  if [ "$BETWEEN" -lt "-$IN_FLIGHT_MAX" ] || [ "$BETWEEN" -gt "$IN_FLIGHT_MAX" ]; then
    fail "outcomes do not add up: $TOTAL probes, $SUCCESS successes, $FAILED failures"
  fi
  echo
  echo "HTTP codes seen: $(awk '$1 ~ /^code_/ {sub(/^code_/, "", $1); printf "%s%s %s", sep, $1, $2; sep = ", "}' "$FINAL_SUM"); daemon log: $DAEMON_LOG_LINES lines, $DAEMON_WARNINGS WARN/ERROR"
fi
echo
if [ "${#FAILURES[@]}" -gt 0 ]; then
  echo "FAILED:"
  printf -- '- %s\n' "${FAILURES[@]}"
  exit 1
fi
echo "Flat: from checkpoint 1 to checkpoint $((CHECKPOINTS - 1)), VmRSS $(mib "$B_RSS") -> $(mib "$L_RSS") MiB (tolerance $RSS_TOLERANCE_PCT %), open fds $B_FD -> $L_FD (tolerance $FD_TOLERANCE), series $B_SERIES -> $L_SERIES (tolerance $SERIES_TOLERANCE)."
