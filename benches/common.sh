# Helpers shared by the benchmark scripts (sourced from the repository root, not run).
# shellcheck shell=bash

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
