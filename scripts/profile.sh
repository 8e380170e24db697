#!/usr/bin/env bash
# profile.sh: a CPU profile of the processor while it drains a backlog, as
# make bench's throughput run does: the embedded broker (cmd/broker) and the
# processor (--pprof) in their own processes, on free ports with fresh data
# dirs; cmd/loadgen publishes ATTEMPTS attempts over CONTACTS contacts as
# fast as it can and checks every verdict; the profile covers the first
# PROFILE_SECONDS seconds of the publishing and draining. Prints loadgen's
# check line and the processor's CPU per decision; writes the profile to OUT.
#
#   go tool pprof -top -cum OUT
#
# Environment: GO (go), OUT (processor.pprof), ATTEMPTS (400000), CONTACTS
# (20000), PROFILE_SECONDS (4), RATE (0: as fast as possible; e.g. 5000 for the
# latency run's load), PROCESSOR_FLAGS (extra processor flags).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=${OUT:-processor.pprof}
ATTEMPTS=${ATTEMPTS:-400000}
CONTACTS=${CONTACTS:-20000}
PROFILE_SECONDS=${PROFILE_SECONDS:-4}
RATE=${RATE:-0}
read -r -a EXTRA <<<"${PROCESSOR_FLAGS:-}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sendgate-profile.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

for tool in curl awk; do
	command -v "$tool" >/dev/null || { echo "profile: $tool is required" >&2; exit 2; }
done
CGO_ENABLED=0 "$GO" build -o "$TMP/bin/" ./cmd/processor ./cmd/loadgen ./cmd/broker

"$TMP/bin/broker" --addr 127.0.0.1:0 --data-dir "$TMP/broker" --partitions 8 >"$TMP/broker.log" 2>&1 &
PIDS+=($!)
BROKER=''
for _ in $(seq 100); do
	BROKER=$(sed -n 's/^broker listening on //p' "$TMP/broker.log")
	[ -n "$BROKER" ] && break
	sleep 0.1
done
[ -n "$BROKER" ] || { echo "profile: broker did not start" >&2; cat "$TMP/broker.log" >&2; exit 1; }

"$TMP/bin/processor" --data-dir "$TMP/data" --brokers "$BROKER" --http-addr 127.0.0.1:0 --partitions 8 \
	--pprof "${EXTRA[@]}" 2>"$TMP/processor.log" &
PID=$!
PIDS+=("$PID")
HTTP=''
for _ in $(seq 600); do
	[ -n "$HTTP" ] || HTTP=$(grep -o '"http":"[^"]*' "$TMP/processor.log" | head -1 | sed 's/.*:"//' || true)
	if [ -n "$HTTP" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/readyz")" = 200 ]; then
		break
	fi
	sleep 0.1
done
[ -n "$HTTP" ] || { echo "profile: processor not ready" >&2; tail -5 "$TMP/processor.log" >&2; exit 1; }

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$PID/stat"; }
t0=$(ticks)
curl -s -o "$OUT" "http://$HTTP/debug/pprof/profile?seconds=$PROFILE_SECONDS" &
CURL=$!
rate=()
[ "$RATE" = 0 ] || rate=(--rate "$RATE")
"$TMP/bin/loadgen" --brokers "$BROKER" --timeout 120s --attempts "$ATTEMPTS" --contacts "$CONTACTS" "${rate[@]}" \
	2>"$TMP/loadgen.log" | tail -1
t1=$(ticks)
wait "$CURL"
awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$ATTEMPTS" \
	'BEGIN { printf "processor CPU: %.1f µs per decision; profile in '"$OUT"'\n", d / hz * 1e6 / n }'
