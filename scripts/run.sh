#!/usr/bin/env bash
# Builds sendgate, starts the processor on its embedded Kafka-protocol broker
# and the Desk console next to it, prints the console's URL and stops both on
# Ctrl-C. Needs only Go and bash (no curl, no Kafka).
#
# Settings (environment):
#   DATA_DIR        ./data           Pebble state, broker log and the two log files
#   BROKER_ADDR     127.0.0.1:9092   the embedded broker
#   PROCESSOR_HTTP  127.0.0.1:8080   the processor's HTTP API
#   DESK_ADDR       127.0.0.1:8090   the console
#   DESK_BOT        support@bots     the bot the console shows
#   GO, BIN         go, bin          the go command and where binaries go
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
BIN=${BIN:-bin}
DATA_DIR=${DATA_DIR:-./data}
BROKER_ADDR=${BROKER_ADDR:-127.0.0.1:9092}
PROCESSOR_HTTP=${PROCESSOR_HTTP:-127.0.0.1:8080}
DESK_ADDR=${DESK_ADDR:-127.0.0.1:8090}
DESK_BOT=${DESK_BOT:-support@bots}

command -v "$GO" >/dev/null || { echo "run: Go is required (https://go.dev/dl)" >&2; exit 1; }
echo "building…"
"$GO" build -o "$BIN/" ./cmd/...
mkdir -p "$DATA_DIR"
proc_log=$DATA_DIR/processor.log
desk_log=$DATA_DIR/desk.log

# http_ok ADDR PATH: whether GET http://ADDR/PATH answers 200 (bash's /dev/tcp).
http_ok() {
	local host=${1%:*} port=${1##*:} status
	(
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
		read -r _ status _ <&3 || exit 1
		[ "$status" = 200 ]
	) 2>/dev/null
}

# Children get their own process groups (job control), so that Ctrl-C reaches
# only this script, which then stops each of them once, gracefully: a second
# signal would make the processor exit at once.
set -m
proc_pid= desk_pid=
stop() {
	trap - INT TERM EXIT
	local pid
	for pid in "$desk_pid" "$proc_pid"; do
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
}
trap 'echo; echo "stopping…"; stop; echo "stopped"; exit 0' INT TERM
trap stop EXIT

# fail WHAT LOG: report a child that did not start, with its last log lines.
fail() {
	echo "run: $1; the end of $2:" >&2
	tail -n 20 "$2" >&2 || true
	exit 1
}

"$BIN/processor" --data-dir "$DATA_DIR" --embedded-addr "$BROKER_ADDR" --http-addr "$PROCESSOR_HTTP" >"$proc_log" 2>&1 &
proc_pid=$!
echo "starting the processor (embedded broker $BROKER_ADDR, API http://$PROCESSOR_HTTP)…"
for ((i = 0; ; i++)); do
	http_ok "$PROCESSOR_HTTP" /readyz && break
	kill -0 "$proc_pid" 2>/dev/null || fail "the processor exited (is $BROKER_ADDR or $PROCESSOR_HTTP in use? set BROKER_ADDR / PROCESSOR_HTTP)" "$proc_log"
	((i < 600)) || fail "the processor is not ready after 60 s" "$proc_log"
	sleep 0.1
done

"$BIN/desk" --brokers "$BROKER_ADDR" --processor-url "http://$PROCESSOR_HTTP" --addr "$DESK_ADDR" --bot "$DESK_BOT" >"$desk_log" 2>&1 &
desk_pid=$!
for ((i = 0; ; i++)); do
	http_ok "$DESK_ADDR" /api/config && break
	kill -0 "$desk_pid" 2>/dev/null || fail "the console exited (is $DESK_ADDR in use? set DESK_ADDR)" "$desk_log"
	((i < 100)) || fail "the console does not answer after 10 s" "$desk_log"
	sleep 0.1
done

cat <<EOF

Desk console: http://$DESK_ADDR

  processor API  http://$PROCESSOR_HTTP  (e.g. /v1/bots/$DESK_BOT/settings)
  Kafka broker   $BROKER_ADDR  (try: $BIN/sgctl watch --brokers $BROKER_ADDR)
  logs           $proc_log, $desk_log
  state          $DATA_DIR

Press Ctrl-C to stop both.
EOF

# Run until Ctrl-C, or until one of the two stops by itself.
set +e
wait -n "$proc_pid" "$desk_pid"
code=$?
for name in processor desk; do
	pid=proc_pid
	[ "$name" = desk ] && pid=desk_pid
	if ! kill -0 "${!pid}" 2>/dev/null; then
		log=$proc_log
		[ "$name" = desk ] && log=$desk_log
		echo "run: the $name stopped (exit $code); the end of $log:" >&2
		tail -n 20 "$log" >&2
	fi
done
exit 1
