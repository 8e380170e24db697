#!/usr/bin/env bash
# Builds sendgate, starts the processor on its embedded Kafka-protocol broker
# and the Desk console next to it, prints the console's URL and stops both on
# Ctrl-C. Needs only Go and bash (no curl, no Kafka).
#
# Settings (environment):
#   DATA_DIR        ./data           Pebble state, broker log, the two log files (the
#                                    previous run's as *.log.1) and run.pid (one run per DATA_DIR)
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
proc_log=$DATA_DIR/processor.log
desk_log=$DATA_DIR/desk.log
lock=$DATA_DIR/run.pid

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

# listening ADDR: whether something accepts connections on ADDR.
listening() {
	local host=${1%:*} port=${1##*:}
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# Another run's files are never touched: one run per DATA_DIR, recorded in
# $lock (created atomically: noclobber), checked before anything is built,
# rotated or started. A lock whose process is gone is stale.
mkdir -p "$DATA_DIR"
busy=0 locked=
for _ in 1 2; do
	if (set -C; echo $$ >"$lock") 2>/dev/null; then
		locked=1
		trap 'rm -f "$lock"' EXIT
		break
	fi
	other=$(cat "$lock" 2>/dev/null || true)
	if [ -n "$other" ] && kill -0 "$other" 2>/dev/null; then
		echo "run: another run (pid $other) is using $DATA_DIR: stop it (Ctrl-C in its terminal), or set DATA_DIR (if pid $other is no make run, remove $lock)" >&2
		busy=1
		break
	fi
	rm -f "$lock" # stale: its run is gone
done
[ -n "$locked" ] || ((busy)) || { echo "run: cannot create $lock" >&2; exit 1; }

# Every port is checked before anything starts: naming what is in use beats
# "address already in use" from half of the services.
for pair in "BROKER_ADDR=$BROKER_ADDR:the embedded Kafka broker" "PROCESSOR_HTTP=$PROCESSOR_HTTP:the processor's HTTP API" "DESK_ADDR=$DESK_ADDR:the Desk console"; do
	name=${pair%%=*} rest=${pair#*=}
	what=${rest##*:} addr=${rest%:*}
	if listening "$addr"; then
		echo "run: $addr ($name, $what) is in use: another make run, or another program; stop it or set $name to a free address" >&2
		busy=1
	fi
done
((busy == 0)) || exit 1

# A first build fetches the modules, then compiles every dependency: minutes
# of silence without these lines.
if ! GOPROXY=off "$GO" mod download >/dev/null 2>&1; then
	echo "downloading the Go modules sendgate needs (first run only; a minute or so)…"
	"$GO" mod download
fi
echo "building sendgate (a first build compiles every dependency: about 3 minutes on 2 cores; later builds take seconds)…"
"$GO" build -o "$BIN/" ./cmd/...

# The previous run's logs are kept, once.
for log in "$proc_log" "$desk_log"; do
	if [ -e "$log" ]; then mv -f "$log" "$log.1"; fi
done

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
	rm -f "$lock"
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
	kill -0 "$proc_pid" 2>/dev/null || fail "the processor exited (is $BROKER_ADDR or $PROCESSOR_HTTP in use? set BROKER_ADDR / PROCESSOR_HTTP)" "$proc_log"
	http_ok "$PROCESSOR_HTTP" /readyz && kill -0 "$proc_pid" 2>/dev/null && break
	((i < 600)) || fail "the processor is not ready after 60 s" "$proc_log"
	sleep 0.1
done

"$BIN/desk" --brokers "$BROKER_ADDR" --processor-url "http://$PROCESSOR_HTTP" --addr "$DESK_ADDR" --bot "$DESK_BOT" >"$desk_log" 2>&1 &
desk_pid=$!
for ((i = 0; ; i++)); do
	kill -0 "$desk_pid" 2>/dev/null || fail "the console exited (is $DESK_ADDR in use? set DESK_ADDR)" "$desk_log"
	http_ok "$DESK_ADDR" /api/config && kill -0 "$desk_pid" 2>/dev/null && break
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
