#!/usr/bin/env bash
# Benchmark: fluxprobe serve's own cost. The daemon probes 10 targets, simulated APIs at time
# scale 0 (instant answers) with 8 GPUs each, and the script reads its RSS (VmRSS) and CPU
# (utime + stime) from /proc:
#   A. steady: a trickle of 1 probe/s per target, status scrapes every 5 s, /metrics scraped
#      every 15 s, for STEADY_SECONDS;
#   B. 1M probes: a trickle every B_INTERVAL per target until fluxprobe_requests_total, summed
#      over the targets, reaches PROBES (RSS after 100k, 500k and 1M; series count at start and end);
#   C. /metrics render time with 10 targets x 8 GPUs, over HTTP (one keep-alive curl, RENDERS GETs,
#      beside /-/healthy as curl's own floor) and in process (examples/serve_render.rs).
# Prints a Markdown table; not part of the test suite. Only 127.0.0.1 is used.
#
# Usage: benches/serve_cost.sh
# Environment (defaults): FLUXPROBE_BIN (build target/release/fluxprobe), FLUXPROBE_RENDER_BIN
# (build the serve_render example), STEADY_SECONDS (120), PROBES (1000000), B_INTERVAL (1ms),
# B_MAX_IN_FLIGHT (4), MAX_WAIT_SECONDS (1200, bound of scenario B), RENDERS (200),
# RENDERS_IN_PROCESS (1000), SIMULATORS (1; the targets share them round-robin).
set -euo pipefail
cd "$(dirname "$0")/.."

STEADY_SECONDS=${STEADY_SECONDS:-120}
PROBES=${PROBES:-1000000}
B_INTERVAL=${B_INTERVAL:-1ms}
B_MAX_IN_FLIGHT=${B_MAX_IN_FLIGHT:-4}
MAX_WAIT_SECONDS=${MAX_WAIT_SECONDS:-1200}
RENDERS=${RENDERS:-200}
RENDERS_IN_PROCESS=${RENDERS_IN_PROCESS:-1000}
SIMULATORS=${SIMULATORS:-1}
TARGETS=10
GPUS=8
SCRAPE_EVERY=15
POLL_SECONDS=2

if [ -n "${FLUXPROBE_BIN:-}" ]; then
  BIN=$FLUXPROBE_BIN
  RENDER_BIN=${FLUXPROBE_RENDER_BIN:-}
else
  cargo build --release --locked --quiet --bin fluxprobe --example serve_render
  BIN=${CARGO_TARGET_DIR:-target}/release/fluxprobe
  RENDER_BIN=${FLUXPROBE_RENDER_BIN:-${CARGO_TARGET_DIR:-target}/release/examples/serve_render}
fi
CLK_TCK=$(getconf CLK_TCK)
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
SIM_PIDS=()

# shellcheck source=benches/common.sh
. benches/common.sh

log() { echo "[serve_cost $(date +%T)] $*" >&2; }

# "VmRSS (RssAnon)" in MiB.
mem() { echo "$(mib "$(rss_kib "$1")") ($(mib "$(anon_kib "$1")"))"; }
# utime + stime in clock ticks (fields 14 and 15; the command name may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# Samples in a scrape file.
series_count() { grep -vc '^#' "$1"; }

# Nearest-rank quantile of a file of numbers, times a factor.
quantile() {
  sort -g "$1" | awk -v q="$2" -v f="$3" '{v[NR] = $1} END {r = int(q * NR); if (r < q * NR) r++; if (r < 1) r = 1; printf "%.3f", v[r] * f}'
}

# Simulators, 8 GPUs each, instant answers.
SIM_URLS=()
for _ in $(seq "$SIMULATORS"); do
  port=$(free_port)
  "$BIN" simulate --listen "127.0.0.1:$port" --time-scale 0 --gpus "$GPUS" >"$WORK/sim-$port.log" 2>&1 &
  PIDS+=("$!")
  SIM_PIDS+=("$!")
  SIM_URLS+=("http://127.0.0.1:$port")
  wait_url "http://127.0.0.1:$port/health"
done

# Writes a daemon configuration: 10 targets over the simulators. Args: file port interval max_in_flight.
write_config() {
  local i
  {
    echo "listen: 127.0.0.1:$2"
    echo "grace_period: 1s"
    echo "defaults:"
    echo "  timeout: 10s"
    echo "  max_in_flight: $4"
    echo "  status_interval: 5s"
    echo "  trickle: {interval: $3, jitter: 0s}"
    echo "targets:"
    for i in $(seq 0 $((TARGETS - 1))); do
      echo "  - name: gpu-box-$(printf %02d "$i")"
      echo "    url: ${SIM_URLS[$((i % SIMULATORS))]}"
    done
  } >"$1"
}

# Starts a daemon; sets DAEMON (pid) and DAEMON_URL.
start_daemon() {
  local port
  port=$(free_port)
  write_config "$WORK/$1.yml" "$port" "$2" "$3"
  "$BIN" serve --config "$WORK/$1.yml" >"$WORK/$1.log" 2>&1 &
  DAEMON=$!
  PIDS+=("$DAEMON")
  DAEMON_URL="http://127.0.0.1:$port"
  wait_url "$DAEMON_URL/-/ready"
}

stop_daemon() {
  kill -TERM "$DAEMON" 2>/dev/null || true
  wait "$DAEMON" 2>/dev/null || true
}


sims_ticks() {
  local p s=0
  for p in "${SIM_PIDS[@]}"; do s=$((s + $(cpu_ticks "$p"))); done
  echo "$s"
}

# --- A. steady: 10 targets at 1 probe/s --------------------------------------------------------
log "A: steady, $TARGETS targets at 1 probe/s each, ${STEADY_SECONDS}s"
start_daemon steady 1s 4
sleep 2
A_RSS0=$(rss_kib "$DAEMON")
A_MEM0=$(mem "$DAEMON")
A_MAX=$A_RSS0
A_T0=$(now)
A_C0=$(cpu_ticks "$DAEMON")
A_S0=$(sims_ticks)
for s in $(seq "$STEADY_SECONDS"); do
  sleep 1
  r=$(rss_kib "$DAEMON")
  [ "$r" -gt "$A_MAX" ] && A_MAX=$r
  if [ $((s % SCRAPE_EVERY)) -eq 0 ]; then scrape "$WORK/a.prom"; fi
done
A_T1=$(now)
A_C1=$(cpu_ticks "$DAEMON")
A_S1=$(sims_ticks)
A_MEM1=$(mem "$DAEMON")
r=$(rss_kib "$DAEMON")
[ "$r" -gt "$A_MAX" ] && A_MAX=$r
scrape "$WORK/a.prom"
A_PROBES=$(metric_sum "$WORK/a.prom" fluxprobe_requests_total)
A_CPU=$(awk -v a="$A_C0" -v b="$A_C1" -v t0="$A_T0" -v t1="$A_T1" -v hz="$CLK_TCK" \
  'BEGIN {printf "%.2f", (b - a) / hz / (t1 - t0) * 100}')
A_SIM_CPU=$(awk -v a="$A_S0" -v b="$A_S1" -v t0="$A_T0" -v t1="$A_T1" -v hz="$CLK_TCK" \
  'BEGIN {printf "%.2f", (b - a) / hz / (t1 - t0) * 100}')
log "A: VmRSS (RssAnon) $A_MEM0 -> $A_MEM1 MiB (max $(mib "$A_MAX")), CPU $A_CPU % of a core, $A_PROBES probes"

# --- C. /metrics render time, on the steady daemon ---------------------------------------------
log "C: /metrics render time, $RENDERS GETs over one keep-alive connection"
scrape "$WORK/c.prom"
C_BYTES=$(wc -c <"$WORK/c.prom")
C_SERIES=$(series_count "$WORK/c.prom")
C_GPU_SERIES=$(grep -c '^fluxprobe_target_gpu_memory_total_bytes{' "$WORK/c.prom" || true)
# One curl, many URLs: the connection is reused, time_total excludes curl's start-up.
timed_gets() {
  local i
  for i in $(seq "$RENDERS"); do
    echo "url = \"$DAEMON_URL$1\""
    echo "output = \"/dev/null\""
  done >"$WORK/curl.cfg"
  curl -s -K "$WORK/curl.cfg" -w '%{time_total}\n' >"$2"
}
timed_gets /metrics "$WORK/metrics.times"
timed_gets /-/healthy "$WORK/healthy.times"
C_MED=$(quantile "$WORK/metrics.times" 0.5 1000)
C_P99=$(quantile "$WORK/metrics.times" 0.99 1000)
C_H_MED=$(quantile "$WORK/healthy.times" 0.5 1000)
C_H_P99=$(quantile "$WORK/healthy.times" 0.99 1000)
A_MEM_AFTER_RENDERS=$(mem "$DAEMON")
log "C: /metrics median $C_MED ms p99 $C_P99 ms (/-/healthy $C_H_MED ms); $C_BYTES bytes, $C_SERIES series"
stop_daemon

IP_LINE=""
if [ -n "$RENDER_BIN" ] && [ -x "$RENDER_BIN" ]; then
  log "C: in process, $RENDERS_IN_PROCESS renders"
  IP_LINE=$("$RENDER_BIN" "$RENDERS_IN_PROCESS" 2>"$WORK/render.log")
fi
kv() { tr ' ' '\n' <<<"$IP_LINE" | awk -F= -v k="$1" '$1 == k {print $2}'; }

# --- B. 1M instant probes ----------------------------------------------------------------------
log "B: trickle every $B_INTERVAL per target (max_in_flight $B_MAX_IN_FLIGHT) until $PROBES probes (at most ${MAX_WAIT_SECONDS}s)"
start_daemon fast "$B_INTERVAL" "$B_MAX_IN_FLIGHT"
# Start once every target has probed and been scraped (every series exists).
for _ in $(seq 100); do
  scrape "$WORK/b.prom"
  [ "$(grep -c '^fluxprobe_target_gpus{' "$WORK/b.prom")" -ge "$TARGETS" ] && break
  sleep 0.1
done
scrape "$WORK/b.prom"
B_T0=$(now)
B_C0=$(cpu_ticks "$DAEMON")
B_S0=$(sims_ticks)
B_N0=$(metric_sum "$WORK/b.prom" fluxprobe_requests_total)
B_SERIES0=$(series_count "$WORK/b.prom")
B_RSS0=$(rss_kib "$DAEMON")
B_MEM0=$(mem "$DAEMON")
B_MAX=$B_RSS0
B_RSS_100K="" B_RSS_500K="" B_RSS_1M=""
n=$B_N0
deadline=$(awk -v t="$B_T0" -v w="$MAX_WAIT_SECONDS" 'BEGIN {printf "%.0f", t + w}')
while [ "$n" -lt "$PROBES" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep "$POLL_SECONDS"
  scrape "$WORK/b.prom"
  n=$(metric_sum "$WORK/b.prom" fluxprobe_requests_total)
  r=$(rss_kib "$DAEMON")
  [ "$r" -gt "$B_MAX" ] && B_MAX=$r
  [ -z "$B_RSS_100K" ] && [ "$n" -ge $((PROBES / 10)) ] && B_RSS_100K=$(mem "$DAEMON")
  [ -z "$B_RSS_500K" ] && [ "$n" -ge $((PROBES / 2)) ] && B_RSS_500K=$(mem "$DAEMON")
  [ -z "$B_RSS_1M" ] && [ "$n" -ge "$PROBES" ] && B_RSS_1M=$(mem "$DAEMON")
  log "B: $n probes, RSS $(mib "$r") MiB, $(series_count "$WORK/b.prom") series"
done
B_T1=$(now)
B_C1=$(cpu_ticks "$DAEMON")
B_S1=$(sims_ticks)
B_N1=$n
B_SERIES1=$(series_count "$WORK/b.prom")
B_MEM1=$(mem "$DAEMON")
B_FAILED=$(metric_sum "$WORK/b.prom" fluxprobe_request_failures_total)
B_SKIPPED=$(metric_sum "$WORK/b.prom" fluxprobe_probes_skipped_total)
stop_daemon
B_DONE=$((B_N1 - B_N0))
B_RATE=$(awk -v n="$B_DONE" -v t0="$B_T0" -v t1="$B_T1" 'BEGIN {printf "%.0f", n / (t1 - t0)}')
B_US=$(awk -v n="$B_DONE" -v a="$B_C0" -v b="$B_C1" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", (b - a) / hz * 1e6 / n}')
B_CPU=$(awk -v a="$B_C0" -v b="$B_C1" -v t0="$B_T0" -v t1="$B_T1" -v hz="$CLK_TCK" \
  'BEGIN {printf "%.0f", (b - a) / hz / (t1 - t0) * 100}')
B_SIM_CPU=$(awk -v a="$B_S0" -v b="$B_S1" -v t0="$B_T0" -v t1="$B_T1" -v hz="$CLK_TCK" \
  'BEGIN {printf "%.0f", (b - a) / hz / (t1 - t0) * 100}')
B_SECONDS=$(awk -v t0="$B_T0" -v t1="$B_T1" 'BEGIN {printf "%.0f", t1 - t0}')
if [ "$B_N1" -lt "$PROBES" ]; then log "B: stopped at the ${MAX_WAIT_SECONDS}s bound with $B_N1 probes"; fi
or_dash() { echo "${1:-—}"; }

# --- Report ------------------------------------------------------------------------------------
echo
echo "fluxprobe serve cost: $TARGETS targets, $SIMULATORS simulator(s) at time scale 0 with $GPUS GPUs each, $(nproc) cores shared by the daemon, the simulator(s) and curl; load average at start $LOAD0"
echo
echo "| figure | measured |"
echo "|---|---|"
echo "| A. steady (${STEADY_SECONDS} s, 1 probe/s per target, status every 5 s): VmRSS (RssAnon) at start / end; max VmRSS | $A_MEM0 / $A_MEM1 MiB; max $(mib "$A_MAX") MiB |"
echo "| A. steady: daemon CPU | $A_CPU % of one core ($A_PROBES probes; simulator $A_SIM_CPU %) |"
echo "| B. $B_DONE probes in $B_SECONDS s (trickle every $B_INTERVAL per target, max_in_flight $B_MAX_IN_FLIGHT) | $B_RATE probes/s, daemon CPU $B_CPU % of one core, simulator $B_SIM_CPU % |"
echo "| B. daemon CPU per probe | $B_US µs |"
echo "| B. VmRSS (RssAnon) at start / after $((PROBES / 10)) / $((PROBES / 2)) / $PROBES probes / end; max VmRSS | $B_MEM0 / $(or_dash "$B_RSS_100K") / $(or_dash "$B_RSS_500K") / $(or_dash "$B_RSS_1M") / $B_MEM1 MiB; max $(mib "$B_MAX") MiB |"
echo "| B. /metrics series at start / end | $B_SERIES0 / $B_SERIES1 (failures $B_FAILED, skipped at max_in_flight $B_SKIPPED) |"
echo "| C. /metrics body ($TARGETS targets × $GPUS GPUs) | $C_BYTES bytes, $C_SERIES series ($C_GPU_SERIES GPUs) |"
echo "| C. GET /metrics over HTTP (curl, keep-alive, $RENDERS GETs): median / p99 | $C_MED / $C_P99 ms |"
echo "| C. GET /-/healthy the same way (HTTP + curl floor): median / p99 | $C_H_MED / $C_H_P99 ms |"
if [ -n "$IP_LINE" ]; then
  echo "| C. render in process ($(kv renders) renders, $(kv series) series): median / p99 / max | $(awk -v a="$(kv median_us)" -v b="$(kv p99_us)" -v c="$(kv max_us)" 'BEGIN {printf "%.3f / %.3f / %.3f", a / 1000, b / 1000, c / 1000}') ms |"
fi
echo "| A. daemon VmRSS (RssAnon) after the $RENDERS GETs of /metrics | $A_MEM_AFTER_RENDERS MiB |"
