#!/usr/bin/env bash
# POST /payments at a steady rate with wrk and report latency percentiles, plus the peak RSS of a process.
#   scripts/bench/run.sh [--url URL] [--rate N] [--duration S] [--pid PID]
# Each of the N/10 connections sends one payment every 100 ms, so the rate is N req/s while the server keeps up.
set -euo pipefail
url=http://127.0.0.1:9999 rate=500 duration=30 pid=""
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=$2; shift 2 ;; --rate) rate=$2; shift 2 ;; --duration) duration=$2; shift 2 ;; --pid) pid=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
connections=$(( rate / 10 ))
peak=0
if [ -n "$pid" ]; then
  ( while kill -0 "$pid" 2>/dev/null; do
      rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status"); [ "$rss" -gt "$peak" ] && peak=$rss && echo "$peak" > /tmp/bench-peak-rss.$$
      sleep 0.25
    done ) & sampler=$!
  trap 'kill $sampler 2>/dev/null || true' EXIT
fi
wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$(dirname "$0")/payments.lua" "$url"
if [ -n "$pid" ]; then
  kill "$sampler" 2>/dev/null || true
  echo "peak RSS of $pid: $(( $(cat /tmp/bench-peak-rss.$$) / 1024 )) MiB; now $(( $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") / 1024 )) MiB"
  rm -f /tmp/bench-peak-rss.$$
fi
