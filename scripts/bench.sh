#!/usr/bin/env bash
# bench.sh: sendgate's benchmark (make bench). Runs the Go micro-benchmarks,
# then two end-to-end runs of cmd/loadgen against the processor in its own
# process on its embedded broker (fresh data dir, free ports):
#   throughput: 200,000 attempts over 20,000 contacts, 8 partitions, published
#               as fast as possible, then drained;
#   latency:    5,000 attempts/s for 30 s.
# Every verdict is checked against loadgen's model of the rule. Prints one
# table and writes it to bench-results.txt; exits 1 when a run fails.
#
# Environment: GO (go), BENCH_OUT (bench-results.txt), BENCH_SKIP_MICRO=1,
# PROCESSOR_FLAGS (extra processor flags, e.g. "--max-batch 1024"),
# THROUGHPUT_ATTEMPTS (200000), CONTACTS (20000), LATENCY_RATE (5000),
# LATENCY_SECONDS (30), MEMORY_CONTACTS (1000000; 0 skips the memory run),
# MEMORY_LIMIT (200MiB), BENCH_ONLY=memory (only the memory run and its
# restart and restore: no micro-benchmarks, no throughput or latency run),
# BENCH_ONLY=profile (only a CPU profile of the processor, served by
# --pprof, over the first PROFILE_SECONDS (4) seconds of a drain of
# THROUGHPUT_ATTEMPTS attempts, written to PROFILE_OUT (processor.pprof),
# with its CPU per decision; read it with go tool pprof -top -cum).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
OUT=${BENCH_OUT:-bench-results.txt}
THROUGHPUT_ATTEMPTS=${THROUGHPUT_ATTEMPTS:-200000}
CONTACTS=${CONTACTS:-20000}
LATENCY_RATE=${LATENCY_RATE:-5000}
LATENCY_SECONDS=${LATENCY_SECONDS:-30}
read -r -a EXTRA <<<"${PROCESSOR_FLAGS:-}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sendgate-bench.XXXXXX")
BIN=$TMP/bin
PID=
BPID=
cleanup() {
	for p in $PID $BPID; do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in curl jq awk; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done

echo "== building processor and loadgen" >&2
# Without cgo, as in the container image: Pebble's cache then lives in the Go
# heap, where GOMEMLIMIT bounds it.
CGO_ENABLED=0 "$GO" build -o "$BIN/" ./cmd/processor ./cmd/loadgen ./cmd/broker

# start_proc NAME [flags...]: starts the embedded broker (cmd/broker) in its
# own process and the processor against it, on free ports with a fresh data
# dir, and waits for /readyz 200. Sets PID, BPID, BROKER and HTTP.
start_proc() {
	local dir=$TMP/$1
	shift
	mkdir -p "$dir"
	"$BIN/broker" --addr 127.0.0.1:0 --data-dir "$dir/broker" --partitions 8 >"$dir/broker.log" 2>&1 &
	BPID=$!
	BROKER=''
	for _ in $(seq 100); do
		BROKER=$(sed -n 's/^broker listening on //p' "$dir/broker.log")
		[ -n "$BROKER" ] && break
		sleep 0.1
	done
	[ -n "$BROKER" ] || { echo "bench: broker did not start:" >&2; cat "$dir/broker.log" >&2; return 1; }
	start_processor "$dir" "$@"
}

# start_processor DIR [flags...]: (re)starts the processor on $BROKER with
# DIR's data dir and waits for /readyz 200. Sets PID and HTTP.
start_processor() {
	local dir=$1
	shift
	"$BIN/processor" --data-dir "$dir/data" --brokers "$BROKER" --http-addr 127.0.0.1:0 \
		--log-level info "$@" 2>"$dir/processor.log" &
	PID=$!
	HTTP=''
	for _ in $(seq 600); do
		if ! kill -0 "$PID" 2>/dev/null; then
			echo "bench: processor exited during start:" >&2
			tail -5 "$dir/processor.log" >&2
			return 1
		fi
		[ -n "$HTTP" ] || HTTP=$(grep -o '"http":"[^"]*' "$dir/processor.log" | head -1 | sed 's/.*:"//' || true)
		if [ -n "$BROKER" ] && [ -n "$HTTP" ] &&
			[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/readyz")" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "bench: processor not ready after 60 s" >&2
	return 1
}

# cpu_ticks: the processor's user + system CPU so far, in clock ticks
# (/proc/PID/stat fields 14 and 15).
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$PID/stat" 2>/dev/null || echo 0
}

# stop_processor: sets HWM to the processor's peak RSS (VmHWM) and stops it
# (SIGTERM, then SIGKILL after 15 s).
stop_processor() {
	HWM=$(awk '/^VmHWM:/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$PID/status" 2>/dev/null || echo "?")
	kill -TERM "$PID" 2>/dev/null || true
	for _ in $(seq 150); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	PID=
}

# stop_proc: stop_processor, then the broker.
stop_proc() {
	stop_processor
	kill -TERM "$BPID" 2>/dev/null || true
	wait "$BPID" 2>/dev/null || true
	BPID=
}

FAILED=0
# e2e NAME loadgen-flags...: one end-to-end run; appends a row to $TMP/e2e.rows.
e2e() {
	local name=$1
	shift
	echo "== end to end: $name (loadgen $*)" >&2
	start_proc "$name" --partitions 8 "${EXTRA[@]}"
	local rc=0 t0 t1
	t0=$(cpu_ticks)
	"$BIN/loadgen" --brokers "$BROKER" --json --timeout 60s "$@" >"$TMP/$name.json" || rc=$?
	t1=$(cpu_ticks)
	stop_proc
	local hwm=$HWM
	# Processor CPU (user + system, from /proc) per decision, in µs.
	local cpu
	cpu=$(jq -r --arg d "$((t1 - t0))" --arg hz "$(getconf CLK_TCK)" \
		'if .verdicts > 0 then ($d|tonumber) / ($hz|tonumber) * 1e6 / .verdicts * 10 | round / 10 | tostring else "-" end' \
		"$TMP/$name.json" 2>/dev/null || echo "-")
	if [ ! -s "$TMP/$name.json" ]; then
		echo "bench: loadgen $name failed (exit $rc) without a report" >&2
		printf '%s\t-\t-\t-\t-\t-\t-\t-\tERROR\t%s\n' "$name" "$hwm" >>"$TMP/e2e.rows"
		FAILED=1
		return
	fi
	[ "$rc" = 0 ] || FAILED=1
	jq -r --arg name "$name" --arg hwm "$hwm" --arg cpu "$cpu" '[$name, (.verdicts|tostring),
		(.decisions_per_sec|floor|tostring), $cpu,
		(.latency_ms.p50*10|round/10|tostring), (.latency_ms.p99*10|round/10|tostring),
		(.latency_ms.p99_9*10|round/10|tostring), (.latency_ms.max*10|round/10|tostring),
		(if .ok then "OK" else "FAILED (\(.mismatches) differ, \(.missing) missing)" end), $hwm] | @tsv' \
		"$TMP/$name.json" >>"$TMP/e2e.rows"
	jq -r '"    \(.counts.allowed) allowed, \(.counts.blocked) blocked, \(.counts.rejected) rejected; produced \(.records) in \(.produce_seconds*100|round/100) s; \(.elapsed_seconds*100|round/100) s first produce to last verdict"' \
		"$TMP/$name.json" >>"$TMP/e2e.notes.$name"
}

ONLY=${BENCH_ONLY:-}
case "$ONLY" in
'' | memory) ;;
profile)
	echo "== profile: the processor draining $THROUGHPUT_ATTEMPTS attempts" >&2
	start_proc profile --partitions 8 --pprof "${EXTRA[@]}"
	t0=$(cpu_ticks)
	curl -s -o "${PROFILE_OUT:-processor.pprof}" "http://$HTTP/debug/pprof/profile?seconds=${PROFILE_SECONDS:-4}" &
	CURL=$!
	rc=0
	"$BIN/loadgen" --brokers "$BROKER" --timeout 120s --attempts "$THROUGHPUT_ATTEMPTS" --contacts "$CONTACTS" \
		2>"$TMP/profile.log" | tail -1 || rc=$?
	t1=$(cpu_ticks)
	wait "$CURL"
	stop_proc
	awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$THROUGHPUT_ATTEMPTS" -v out="${PROFILE_OUT:-processor.pprof}" \
		'BEGIN { printf "processor CPU: %.1f µs per decision; profile in %s\n", d / hz * 1e6 / n, out }'
	exit "$rc"
	;;
*) echo "bench: BENCH_ONLY=$ONLY: only 'memory' and 'profile' are known" >&2; exit 2 ;;
esac
if [ "${BENCH_SKIP_MICRO:-}" != 1 ] && [ -z "$ONLY" ]; then
	echo "== micro-benchmarks" >&2
	"$GO" test -run '^$' -bench . -benchmem ./quota/ ./events/ ./state/ ./pipeline/ | tee "$TMP/micro.txt" >&2
fi
: >"$TMP/e2e.rows"
if [ -z "$ONLY" ]; then
	e2e throughput --attempts "$THROUGHPUT_ATTEMPTS" --contacts "$CONTACTS"
	e2e latency --attempts $((LATENCY_RATE * LATENCY_SECONDS)) --rate "$LATENCY_RATE" --contacts "$CONTACTS"
fi

# memory: MEMORY_CONTACTS contacts in state under GOMEMLIMIT, then how long a
# restart over that state takes to answer /readyz 200.
MEMORY_CONTACTS=${MEMORY_CONTACTS:-1000000}
MEMORY_LIMIT=${MEMORY_LIMIT:-200MiB}
if [ "$MEMORY_CONTACTS" -gt 0 ]; then
	echo "== end to end: memory ($MEMORY_CONTACTS contacts, GOMEMLIMIT=$MEMORY_LIMIT)" >&2
	export GOMEMLIMIT=$MEMORY_LIMIT
	start_proc memory --partitions 8 "${EXTRA[@]}"
	rc=0
	"$BIN/loadgen" --brokers "$BROKER" --json --timeout 120s --no-read-back --attempts "$MEMORY_CONTACTS" \
		--contacts "$MEMORY_CONTACTS" >"$TMP/memory.json" || rc=$?
	stop_processor
	MEM_HWM=$HWM
	t0=$(date +%s%N)
	start_processor "$TMP/memory" "${EXTRA[@]}"
	t1=$(date +%s%N)
	RESTART=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f s", (b - a) / 1e9 }')
	stop_processor
	# The same partitions restored from the changelog by an instance with an
	# empty data dir (a takeover by a new machine).
	mkdir -p "$TMP/restore"
	t0=$(date +%s%N)
	start_processor "$TMP/restore" "${EXTRA[@]}"
	t1=$(date +%s%N)
	# Records and bytes (keys and values) applied, from the partitions'
	# "restored" log lines; rates over the time to /readyz 200.
	RESTORED=$(grep -o '"records":[0-9]*' "$TMP/restore/processor.log" | awk -F: '{ r += $2 } END { print r + 0 }')
	RESTORED_MB=$(grep -o '"bytes":[0-9]*' "$TMP/restore/processor.log" | awk -F: '{ r += $2 } END { print r / 1048576 }')
	RESTORE=$(awk -v a="$t0" -v b="$t1" -v n="$RESTORED" -v mb="$RESTORED_MB" \
		'BEGIN { s = (b - a) / 1e9; printf "%.2f s, %.0f records/s, %.1f MiB/s", s, n / s, mb / s }')
	stop_proc
	RESTORE_HWM=$HWM
	unset GOMEMLIMIT
	[ "$rc" = 0 ] || FAILED=1
	MEM_ROW=$(jq -r --arg hwm "$MEM_HWM" --arg rs "$RESTART" --arg rt "$RESTORE" --arg rn "$RESTORED" --arg rmb "$RESTORED_MB" --arg rhwm "$RESTORE_HWM" '"memory: \(.verdicts) verdicts over \(.verdicts) contacts at \(.decisions_per_sec|floor) decisions/s; processor VmHWM \($hwm); restart to /readyz 200: \($rs); restore from the changelog into an empty data dir (\($rn) records, \($rmb) MiB) to /readyz 200: \($rt), VmHWM \($rhwm)"' "$TMP/memory.json" 2>/dev/null || echo "memory: loadgen failed (exit $rc)")
fi

{
	rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	git diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "sendgate bench, $(date -u +%Y-%m-%dT%H:%MZ), commit $rev, $("$GO" env GOVERSION), $(nproc) CPUs ($cpu)"
	if [ -s "$TMP/micro.txt" ]; then
		echo
		echo "Micro-benchmarks (go test -run '^\$' -bench . -benchmem ./quota/ ./events/ ./state/ ./pipeline/)"
		awk '
			/^pkg: / { pkg = $2; sub(/.*\//, "", pkg) }
			/^Benchmark/ {
				name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
				ns = ""; b = ""; al = ""; extra = ""
				for (i = 3; i < NF; i += 2) {
					if ($(i+1) == "ns/op") ns = $i
					else if ($(i+1) == "B/op") b = $i
					else if ($(i+1) == "allocs/op") al = $i
					else extra = extra (extra == "" ? "" : ", ") $i " " $(i+1)
				}
				ops = ns > 0 ? 1e9 / ns : 0
				unit = ops >= 1e6 ? sprintf("%.1fM", ops / 1e6) : ops >= 1e3 ? sprintf("%.1fk", ops / 1e3) : sprintf("%.0f", ops)
				printf "%-8s %-40s %12s %10s %6s %6s  %s\n", pkg, name, ns, unit, b, al, extra
			}' "$TMP/micro.txt" | { printf '%-8s %-40s %12s %10s %6s %6s  %s\n' pkg benchmark ns/op "op/s" B/op allocs other; cat; }
	fi
	if [ -s "$TMP/e2e.rows" ]; then
		echo
		echo "End to end: processor in its own process on its embedded broker (8 partitions, fresh data dir${PROCESSOR_FLAGS:+, $PROCESSOR_FLAGS}),"
		echo "cmd/loadgen on the same machine; latency = produce ack to verdict receipt, in ms; every verdict checked against the model"
		{
			printf 'run\tverdicts\tdecisions/s\tCPU µs/decision\tp50\tp99\tp99.9\tmax\tcheck\tprocessor VmHWM\n'
			cat "$TMP/e2e.rows"
		} | column -t -s $'\t'
		for n in throughput latency; do
			[ -s "$TMP/e2e.notes.$n" ] && { echo "  $n:"; cat "$TMP/e2e.notes.$n"; }
		done
		echo "  throughput: $THROUGHPUT_ATTEMPTS attempts over $CONTACTS contacts, published as fast as possible (latency includes the backlog)"
		echo "  latency: $LATENCY_RATE attempts/s for $LATENCY_SECONDS s over $CONTACTS contacts"
	fi
	[ -z "${MEM_ROW:-}" ] || { echo; echo "$MEM_ROW (GOMEMLIMIT=$MEMORY_LIMIT; every verdict checked against the model)"; }
} >"$TMP/table.txt"
cp "$TMP/table.txt" "$OUT"
echo
cat "$TMP/table.txt"
echo
echo "(written to $OUT)"
exit "$FAILED"
