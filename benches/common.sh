# Helpers shared by the benchmark scripts (sourced from the repository root, not run).
# shellcheck shell=bash
# Each script sets DAEMON_URL before it scrapes; processes it starts go in PIDS, files in WORK.

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until a URL answers 2xx.
wait_url() {
  local _
  for _ in $(seq 200); do
    curl -sf -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.05
  done
  echo "no answer from $1 within 10 s" >&2
  return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Private memory only (VmRSS less the mapped binary and libraries).
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

scrape() { curl -sf --max-time 10 -o "$1" "$DAEMON_URL/metrics"; }
# Sum of a metric's samples in a scrape file (every label set of the name).
metric_sum() { awk -v n="$2{" 'index($0, n) == 1 {s += $NF} END {printf "%.0f", s}' "$1"; }
