#!/usr/bin/env bash
# The purifiers' MQTT link (issue 17) under load: the server (release, --demo --dev, fresh
# SQLite) on a Mosquitto of its own (started here from a config in the temp dir: no
# persistence, no connection cap), driven by examples/iot_load.rs:
#
# A. DEVICES (10,000) simulated purifiers, one MQTT client each (utilhall::sim), reporting every
#    REPORT_SECS (10) s; DURATION (60) s measured: reports sent against those the server applied
#    (`utilhall_iot_messages_total{type="report"}`), the ingest lag (the server's
#    `utilhall_iot_ingest_lag_seconds`: report ts -> commit) and an end-to-end lag measured from
#    outside (reports handed to the clients -> counted by the server, from /metrics every 20 ms;
#    the same curve to a plain subscriber is the broker's share), the server's VmRSS before and
#    after the devices connect (Mosquitto's own growth per connection as the baseline), and the
#    CPU each process used.
# B. BURST_DEVICES (300) other devices publish signed reports (QoS 1), BURST_SECS (20) s each
#    time, never more than BURST_WINDOW (900) ahead of what is being measured: B1 paced by
#    the server's count: the most reports a second it applies; B2 paced by a plain rumqttc
#    subscriber on the same topics (the server's subscription still up): the most the broker
#    delivers to one QoS 1 subscriber, the baseline; B3 unpaced, a flood, for the record.
#
# The broker is configured for the server's link: max_inflight_messages BROKER_INFLIGHT (1000)
# and max_queued_messages BROKER_QUEUE (10000). Mosquitto (2.0.11 here) delivers to a QoS 1
# subscriber many times slower once frames queue for it beyond its in-flight window: with its
# default window, 20, a backlog of any size caps the server (and a plain subscriber) at a few
# hundred frames a second.
#
#   bash bench/iot_mqtt.sh
#   DEVICES=1000 DURATION=20 BURST_SECS=10 bash bench/iot_mqtt.sh       # a short run
#
# Env: DEVICES (10000), REPORT_SECS (10), DURATION (60), BURST_DEVICES (300), BURST_SECS (20),
#      BURST_WINDOW (900: keep it below BROKER_INFLIGHT), PHASES ("a b"), PORT (18120),
#      BROKER_PORT (18883), BROKER_INFLIGHT (1000: QoS 1 frames the broker has in flight to a
#      client unacknowledged; 0 is no limit),
#      BROKER_QUEUE (10000: what it holds for a client beyond those, the rest it drops),
#      SKIP_BUILD=1, BIN (another build of utilhall), KEEP_TMP=1, APPEND=1 (append the table to
#      bench/README.md).
set -euo pipefail

DEVICES="${DEVICES:-10000}"
REPORT_SECS="${REPORT_SECS:-10}"
DURATION="${DURATION:-60}"
BURST_DEVICES="${BURST_DEVICES:-300}"
BURST_SECS="${BURST_SECS:-20}"
BURST_WINDOW="${BURST_WINDOW:-900}"
PHASES="${PHASES:-a b}"
PORT="${PORT:-18120}"
BROKER_PORT="${BROKER_PORT:-18883}"
BROKER_INFLIGHT="${BROKER_INFLIGHT:-1000}"
BROKER_QUEUE="${BROKER_QUEUE:-10000}"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/utilhall}"
LOAD="$ROOT/target/release/examples/iot_load"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for tool in curl python3 mosquitto; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
    log "building utilhall and the load client (release)"
    (cd "$ROOT" && cargo build --release --quiet --bin utilhall --example iot_load)
fi
[[ -x "$BIN" && -x "$LOAD" ]] || die "missing release binaries (run without SKIP_BUILD)"
# One socket per device in the load client, and one per device in the broker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) > DEVICES + BURST_DEVICES + 500 )) || die "open files limit $(ulimit -n) is too low"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/utilhall-iot-mqtt.XXXXXX")"
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [[ -n "${KEEP_TMP:-}" ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# "server broker load" CPU ticks, one line.
cpu_all() { echo "$(cpu_ticks "$SERVER") $(cpu_ticks "$BROKER") $(cpu_ticks "$LOADPID") $(date +%s.%N)"; }

# Waits (at most $2 tenths of a second) until the load client prints a line starting with $1.
await_load() {
    for ((i = 0; i < $2; i++)); do
        grep -q "^$1" "$TMP/load.out" 2>/dev/null && return 0
        kill -0 "$LOADPID" 2>/dev/null || { tail -20 "$TMP/load.err" >&2; tail -20 "$TMP/server.log" >&2; die "the load client stopped"; }
        sleep 0.1
    done
    die "no '$1' from the load client in $(($2 / 10)) s"
}

log "broker: mosquitto on 127.0.0.1:$BROKER_PORT (max_inflight_messages $BROKER_INFLIGHT, max_queued_messages $BROKER_QUEUE)"
cat >"$TMP/mosquitto.conf" <<CONF
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
persistence false
max_connections -1
max_inflight_messages $BROKER_INFLIGHT
max_queued_messages $BROKER_QUEUE
log_dest stderr
log_type error
log_type warning
log_type notice
CONF
mosquitto -c "$TMP/mosquitto.conf" 2>"$TMP/mosquitto.log" &
BROKER=$!
PIDS+=("$BROKER")
for ((i = 0; i < 50; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT") 2>/dev/null && break
    sleep 0.1
done
kill -0 "$BROKER" 2>/dev/null || { cat "$TMP/mosquitto.log" >&2; die "mosquitto did not start"; }

PREFIX="b$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
BASE="http://127.0.0.1:$PORT"
log "server: release, --demo --dev, fresh SQLite, device link on the broker, prefix $PREFIX"
(
    cd "$TMP"
    RUST_LOG=warn UTILHALL_AUTH__ARGON2_MEMORY_KIB=1024 UTILHALL_AUTH__ARGON2_ITERATIONS=1 \
        UTILHALL_AUTH__ADMIN_LOGIN_IP_LIMIT=1000 \
        UTILHALL_IOT__MQTT_URL="mqtt://127.0.0.1:$BROKER_PORT" UTILHALL_IOT__TOPIC_PREFIX="$PREFIX" \
        UTILHALL_IOT__DEMO_DEVICES=0 \
        exec "$BIN" serve --demo --dev --database-url "sqlite://$TMP/bench.db" --bind "127.0.0.1:$PORT"
) >"$TMP/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
for ((i = 0; i < 150; i++)); do
    curl -sf -o /dev/null --max-time 1 "$BASE/health" && break
    sleep 0.2
done
curl -sf -o /dev/null "$BASE/health" || { tail -20 "$TMP/server.log" >&2; die "the server did not start"; }
# The server's own client on the broker (it subscribes as it connects).
for ((i = 0; i < 100; i++)); do
    grep -q "as utilhall-" "$TMP/mosquitto.log" && break
    sleep 0.1
done
grep -q "as utilhall-" "$TMP/mosquitto.log" || die "the server did not connect to the broker"
sleep 1
RSS_START="$(rss_kib "$SERVER")"

BASE="$BASE" BROKER="mqtt://127.0.0.1:$BROKER_PORT" PREFIX="$PREFIX" DEVICES="$DEVICES" \
    REPORT_SECS="$REPORT_SECS" DURATION_SECS="$DURATION" BURST_DEVICES="$BURST_DEVICES" \
    BURST_SECS="$BURST_SECS" BURST_WINDOW="$BURST_WINDOW" PHASES="$PHASES" \
    "$LOAD" >"$TMP/load.out" 2>"$TMP/load.err" &
LOADPID=$!
PIDS+=("$LOADPID")
await_load SETUP 6000
sleep 1
echo "$(rss_kib "$SERVER") $(rss_kib "$BROKER")" >"$TMP/rss.registered"
log "$(tail -1 "$TMP/load.err")"
if [[ "$PHASES" == *a* ]]; then
    log "A: connecting $DEVICES devices"
    await_load CONNECTED 9000
    sleep 1
    echo "$(rss_kib "$SERVER") $(rss_kib "$BROKER")" >"$TMP/rss.connected"
    log "A: $(grep -E 'connected and subscribed' "$TMP/load.err" | tail -1)"
    await_load MEASURING $(( (REPORT_SECS + 60) * 10 ))
    cpu_all >"$TMP/cpu.a0"
    log "A: measuring $DURATION s"
    await_load MEASURED $(( (DURATION + 60) * 10 ))
    cpu_all >"$TMP/cpu.a1"
    echo "$(rss_kib "$SERVER") $(rss_kib "$BROKER")" >"$TMP/rss.load"
    log "A: done; the fleet stops, the server drains"
fi
if [[ "$PHASES" == *b* ]]; then
    for step in B1 B2 B3; do
        await_load "${step}_START" 30000
        cpu_all >"$TMP/cpu.$step.0"
        log "$step: $BURST_DEVICES devices for $BURST_SECS s"
        await_load "${step}_END" $(( (BURST_SECS + 60) * 10 ))
        cpu_all >"$TMP/cpu.$step.1"
    done
    log "B: done; the server drains"
fi
wait "$LOADPID" || { tail -20 "$TMP/load.err" >&2; die "the load client failed"; }
echo "$(hwm_kib "$SERVER")" >"$TMP/rss.hwm"
curl -s "$BASE/metrics" | grep -E '^utilhall_iot' >"$TMP/metrics" || true
if grep -qiE 'panic|ERROR' "$TMP/server.log"; then
    log "the server logged errors (first ones):"
    grep -iE 'panic|ERROR' "$TMP/server.log" | head -5 >&2
fi
grep -vE 'New (client|connection)|Client .* (disconnected|closed its connection)|mosquitto version|Opening ipv4|Config loaded' "$TMP/mosquitto.log" | head -5 >&2 || true

python3 - "$TMP" "$ROOT/bench/README.md" "${APPEND:-0}" "$RSS_START" "$(getconf CLK_TCK)" \
    "$BROKER_INFLIGHT" "$BROKER_QUEUE" <<'PY' | tee "$TMP/table.txt"
import datetime, json, os, sys
tmp, readme, append, rss_start, tck = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
inflight, queue = sys.argv[6], sys.argv[7]
line = [l for l in open(f"{tmp}/load.out") if l.startswith("SUMMARY ")][-1]
s = json.loads(line[len("SUMMARY "):])
def read(name):
    p = f"{tmp}/{name}"
    return list(map(float, open(p).read().split())) if os.path.exists(p) else None
def cpu(a, b):
    x, y = read(a), read(b)
    if not x or not y:
        return None
    secs = y[3] - x[3]
    return [(y[i] - x[i]) / tck / secs * 100 for i in range(3)]
def n(v, fmt="{:,.0f}"):
    return "n/a" if v is None else fmt.format(v)
rows = []
def row(figure, value, baseline=""):
    rows.append((figure, value, baseline))
if "a" in s:
    a = s["a"]
    d = a["connected"]
    row(f"A. devices connected (one MQTT client each)", f"{d:,} in {a['connect_secs']:.1f} s", f"of {s['devices']:,}")
    row(f"reports/s in the {a['window_secs']:.0f} s window: applied", n(a["applied_per_sec"], "{:,.1f}"),
        f"sent {a['sent_per_sec']:,.1f}")
    lost = None if a["total_applied"] is None else a["total_sent"] - a["total_applied"]
    row("reports in all, after the drain: applied", n(a["total_applied"]), f"sent {a['total_sent']:,} (missing {n(lost)})")
    dropped = {k: v for k, v in (a["dropped"] or {}).items() if v}
    row("frames dropped by the server", ", ".join(f"{k} {v:.0f}" for k, v in dropped.items()) or "none", "")
    lag = a["ingest_lag_ms"]
    row("ingest lag p50 / p99 (server: ts -> commit)",
        "n/a" if lag is None else f"{lag['p50']:.1f} / {lag['p99']:.1f} ms", "")
    e, b = a["e2e_lag"], a["broker_lag"]
    row("end to end p50 / p99 (sent -> the server counted it)",
        f"{e['p50_ms']:.0f} / {e['p99_ms']:.0f} ms" + (f" ({e['never']} never)" if e["never"] else ""),
        f"to a plain subscriber {b['p50_ms']:.0f} / {b['p99_ms']:.0f} ms")
    reg, con, load = read("rss.registered"), read("rss.connected"), read("rss.load")
    if reg and con:
        row("server VmRSS: devices registered -> connected",
            f"{reg[0] / 1024:.1f} -> {con[0] / 1024:.1f} MiB (+{(con[0] - reg[0]) / max(d, 1):.1f} KiB a device)",
            f"Mosquitto +{(con[1] - reg[1]) / max(d, 1):.1f} KiB a connection")
    if load:
        row("server VmRSS at the end of the window", f"{load[0] / 1024:.1f} MiB", f"started at {rss_start / 1024:.1f} MiB")
    c = cpu("cpu.a0", "cpu.a1")
    if c:
        row("CPU in the window (% of one core)", f"server {c[0]:.0f} %", f"Mosquitto {c[1]:.0f} %, devices {c[2]:.0f} %")
    sim = a["sim"]
    row("devices: reconnections, reports skipped", f"{sim['reconnections']}, {sim['reports_skipped']}", "")
    row("subscriber: frames not verifying, seq out of order", f"{a['subscriber_bad_frames']}, {a['subscriber_out_of_order']}", "")
if "b" in s:
    b = s["b"]
    steps = [("B1", "capacity", f"B1. {b['devices']} devices, paced by the server: reports applied/s"),
             ("B2", "broker", "B2. paced by a plain subscriber: received/s"),
             ("B3", "flood", "B3. unpaced (a flood): published/s")]
    for step, name, label in steps:
        r = b.get(name)
        if not r:
            continue
        if name == "capacity":
            row(label, n(r["applied_per_sec"]), f"published {r['published_per_sec']:,.0f}/s")
        elif name == "broker":
            row(label, f"{r['heard_per_sec']:,.0f}", f"published {r['published_per_sec']:,.0f}/s; the server applied {n(r['applied_per_sec'])}/s")
        else:
            row(label, f"{r['published_per_sec']:,.0f}", f"broker PUBACKs {r['acked_by_broker_per_sec']:,.0f}/s")
            row("B3. received/s: plain subscriber, server applied", f"{r['heard_per_sec']:,.0f}, {n(r['applied_per_sec'])}",
                "" if r["applied_until_drained"] is None else f"the server applied {r['applied_until_drained']:,.0f} of {r['published']:,} by its drain")
        c = cpu(f"cpu.{step}.0", f"cpu.{step}.1")
        if c:
            row(f"{step}. CPU (% of one core)", f"server {c[0]:.0f} %", f"Mosquitto {c[1]:.0f} %, publishers + subscriber {c[2]:.0f} %")
    last = b.get("flood") or b.get("broker") or {}
    dropped = {k: v for k, v in (last.get("dropped") or {}).items() if v}
    row("frames dropped by the server (all phases)", ", ".join(f"{k} {v:.0f}" for k, v in dropped.items()) or "none", "")
    row("subscriber: frames not verifying, seq out of order", f"{b['subscriber_bad_frames']}, {b['subscriber_out_of_order']}", "")
hwm = read("rss.hwm")
if hwm:
    row("server peak VmRSS", f"{hwm[0] / 1024:.1f} MiB", "")
head = (f"MQTT link bench: {s['devices']:,} devices every {s['report_secs']:g} s, {s['duration_secs']:g} s measured; "
        f"burst {s['burst_devices']} devices {s['burst_secs']:g} s; Mosquitto max_inflight_messages {inflight}, "
        f"max_queued_messages {queue}; {os.cpu_count()} cores shared by all")
w = max(len(r[0]) for r in rows)
v = max(len(r[1]) for r in rows)
out = [head, "", f"{'figure':<{w}}  {'value':<{v}}  baseline"]
out += [f"{a:<{w}}  {b:<{v}}  {c}" for a, b, c in rows]
text = "\n".join(out)
print(text)
if append:
    with open(readme, "a") as f:
        f.write(f"\nRun of {datetime.date.today().isoformat()} (`bash bench/iot_mqtt.sh`):\n\n```\n{text}\n```\n")
PY
