#!/usr/bin/env bash
# Switchyard benchmarks with SIPp against a release build. Prints figures; copy them
# into docs/BENCHMARKS.md with the date.
#
#   sip-tests/bench/run.sh register   # REGISTER+digest auth per second at <0.1 % failures
#   sip-tests/bench/run.sh calls      # calls per second set up and torn down through the B2BUA
#   sip-tests/bench/run.sh hygiene    # 10 min of calls at HYGIENE_RATE (2,400/s: 80 % of the measured
#                                     # rate) to a callee with a stale contact; what the switch holds
#                                     # (fds, threads, tasks, ports, calls, transactions, RSS) before/after
#   sip-tests/bench/run.sh calls-stale  # the same, the callee also has a stale contact
#                                       # (STALE=icmp: its port is closed; STALE=blackhole: it swallows everything)
#   sip-tests/bench/run.sh rtp        # concurrent calls with 20 ms G.711 both ways (examples/rtp_load):
#                                     # loss and one-way delay p99 through the relay
#   SY_CPUS=0 LOAD_CPUS=1 sip-tests/bench/run.sh rtp-compare  # the switch, then rtpengine (userspace,
#                                     # one thread), each pinned to core 0, the same generator on core 1
#   sip-tests/bench/run.sh rtp-sipp   # the same load played by SIPp from a pcap
#   sip-tests/bench/run.sh transcode  # concurrent Opus<->PCMU calls transcoded by the switch
#   sip-tests/bench/run.sh browser    # the same with the caller a WebRTC peer (ICE, DTLS-SRTP)
#   sip-tests/bench/run.sh playback   # concurrent channels the switch plays music on hold to
#   sip-tests/bench/run.sh queue-moh  # concurrent callers waiting in an ACD queue with music on hold
#   sip-tests/bench/run.sh queue-calls  # calls/s IVR (key 1) -> queue -> agent, and plain extension
#                                       # calls with the same hold time, in one run
#   sip-tests/bench/run.sh voice-api  # the voice API under load: GET /availability/queues (50 queues,
#                                     # 500 agents registered, calls running) with wrk, keyed and public;
#                                     # click-to-call starts per second
#   sip-tests/bench/run.sh merchant   # accepted SMS dispatch requests/s with Idempotency-Keys (wrk), and
#                                     # accept-to-provider hand-off p50/p99 at a steady rate
#   sip-tests/bench/run.sh all
#   PEER=kamailio sip-tests/bench/run.sh register   # the same load against Kamailio (reference)
#   HOOKS=4 sip-tests/bench/run.sh calls   # with 4 webhook subscriptions (the channel hooks) delivering
#                                          # to a local receiver (examples/webhook_sink) during the load
#
# Environment: RATES (register rates to try), CALL_RATES, RTP_CALLS (concurrency steps),
# SIPP (path), SY_BIN (switch binary; default target/release/switchyard, built if missing),
# SY_CPUS / LOAD_CPUS (taskset CPU lists for the system under test and the RTP generator).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

SIPP=${SIPP:-sipp}
command -v "$SIPP" >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
SY_BIN=${SY_BIN:-$root/target/release/switchyard}
[ -x "$SY_BIN" ] || cargo build --release
work=$(mktemp -d /tmp/sy-bench.XXXXXX)
SIP_PORT=${SIP_PORT:-25060}
HTTP_PORT=${HTTP_PORT:-28080}
USERS=${USERS:-2000}
AGENTS=${AGENTS:-500}
PCAP=${PCAP:-}
sy_pid=""

cleanup() {
  [ -n "$sy_pid" ] && kill "$sy_pid" 2>/dev/null || true
  [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# A dialplan with $USERS extensions 10000.. (password pw<number>), default account.
gen_dialplan() {
  {
    echo '[[accounts]]'
    echo 'id = "bench"'
    echo 'name = "Bench"'
    echo 'sip_domain = "bench.switchyard.test"'
    echo 'default = true'
    for ((i = 0; i < USERS; i++)); do
      n=$((10000 + i))
      printf '[[accounts.extensions]]\nnumber = "%s"\npassword = "pw%s"\ndisplay_name = "User %s"\n' "$n" "$n" "$n"
    done
    # a dialplan app for the playback benchmark: an hour of music on hold
    printf '[[accounts.apps]]\nnumber = "9000"\nname = "Bench MOH"\nsteps = [ { moh = "default", seconds = 3600 } ]\n'
    # an IVR menu (9200) whose key 1 waits in the queue "bench" (agents 10001..), and a
    # queue nobody answers (9100: callers wait with music on hold)
    printf '[[accounts.callflows]]\nnumber = "9200"\nname = "Bench IVR"\nstart = "menu"\n'
    printf '[[accounts.callflows.nodes]]\nid = "menu"\nkind = "ivr_menu"\nprompt = [{ pause = 5 }]\noptions = { "1" = "q" }\n'
    printf '[[accounts.callflows.nodes]]\nid = "q"\nkind = "queue"\nqueue = "bench"\n'
    printf '[[accounts.queues]]\nid = "hold"\nname = "Hold"\nnumber = "9100"\nmax_wait = 3600\n'
    # a one-second app click-to-call connects to (voice-api), and $QUEUES queues of 10 agents each
    printf '[[accounts.apps]]\nnumber = "9001"\nname = "Bench pause"\nsteps = [ { pause = 1 } ]\n'
    for ((q = 1; q <= ${QUEUES:-0}; q++)); do
      printf '[[accounts.queues]]\nid = "q%s"\nname = "Queue %s"\nnumber = "%s"\nmembers = [' "$q" "$q" $((9300 + q))
      for ((i = 0; i < 10; i++)); do printf '"%s",' $((10001 + ((q - 1) * 10 + i) % AGENTS)); done
      printf ']\n'
    done
    printf '[[accounts.queues]]\nid = "bench"\nname = "Bench"\nstrategy = "rrmemory"\ntimeout = 5\nretry = 0\nmembers = ['
    for ((i = 1; i <= AGENTS; i++)); do printf '"%s",' $((10000 + i)); done
    printf ']\n'
  } > "$work/bench.toml"
  : > "$work/users.csv"
  echo "RANDOM" > "$work/users.csv"
  for ((i = 0; i < USERS; i++)); do n=$((10000 + i)); echo "$n;[authentication username=$n password=pw$n]" >> "$work/users.csv"; done
}

start_kamailio() {
  command -v kamailio >/dev/null || { echo "kamailio missing: apt-get install kamailio" >&2; exit 1; }
  sed -e "s/LISTEN/127.0.0.1:$SIP_PORT/" -e "s/CHILDREN/${KAM_CHILDREN:-4}/" \
    "$here/kamailio/kamailio.cfg" > "$work/kamailio.cfg"
  kamailio -f "$work/kamailio.cfg" -DD -E -m 256 -M 16 -P "$work/kamailio.pid" > "$work/kamailio.log" 2>&1 &
  sy_pid=$!
  wait_udp $SIP_PORT kamailio
}

# Waits for a peer to listen on UDP port $1 (5 s), else shows its log ($work/$2.log).
wait_udp() {
  for _ in $(seq 1 50); do
    ss -lun | grep -q ":$1 " && { sleep 0.3; return 0; }
    sleep 0.1
  done
  echo "$2 did not start:" >&2; cat "$work/$2.log" >&2; exit 1
}

# rtpengine 10.5 (Debian rtpengine-daemon) as a userspace relay: no kernel forwarding
# table, one worker thread, NG control on SIP_PORT + 20.
start_rtpengine() {
  command -v rtpengine >/dev/null || { echo "rtpengine missing: apt-get install rtpengine-daemon" >&2; exit 1; }
  $(pin "${SY_CPUS:-}") rtpengine --foreground --table=-1 --interface=127.0.0.1 \
    --listen-ng=127.0.0.1:$((SIP_PORT + 20)) --port-min=40000 --port-max=49999 \
    --num-threads=1 --delete-delay=0 --log-level=3 --log-stderr > "$work/rtpengine.log" 2>&1 &
  sy_pid=$!
  wait_udp $((SIP_PORT + 20)) rtpengine
}

# "taskset -c LIST" when LIST is set (pins a process to those CPUs).
pin() { [ -n "$1" ] && echo "taskset -c $1" || true; }

start_switch() {
  if [ "${PEER:-switchyard}" = kamailio ]; then start_kamailio; return; fi
  if [ "${PEER:-switchyard}" = rtpengine ]; then start_rtpengine; return; fi
  rm -rf "$work/data"
  RUST_LOG=${RUST_LOG:-warn} $(pin "${SY_CPUS:-}") "$SY_BIN" serve --sip-udp 127.0.0.1:$SIP_PORT --sip-tcp 127.0.0.1:$SIP_PORT \
    --sip-ws 127.0.0.1:$((SIP_PORT + 6)) --http 127.0.0.1:$HTTP_PORT --rtp-ports 40000-49999 \
    --public-ip 127.0.0.1 --data-dir "$work/data" --dialplan "$work/bench.toml" \
    --auth-max-failures 1000000 ${SY_EXTRA:-} > "${SWITCH_LOG:-$work/switch.log}" 2>&1 &
  sy_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "switch did not start:" >&2; cat "$work/switch.log" >&2; exit 1
}

# CPU time (clock ticks) used so far by the system under test (all its processes).
cpu_ticks() {
  local pids t=0
  case "${PEER:-switchyard}" in
    kamailio) pids=$(pgrep -x kamailio) ;;
    rtpengine) pids=$(pgrep -x rtpengine) ;;
    *) pids=$sy_pid ;;
  esac
  for p in $pids; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}

# Microseconds of CPU per completed call between two cpu_ticks readings.
cpu_us() { python3 -c "print(int(($2 - $1) * 1e6 / $(getconf CLK_TCK) / max(1, $3)))"; }

stop_switch() { kill "$sy_pid" 2>/dev/null || true; wait "$sy_pid" 2>/dev/null || true; sy_pid=""; }

# Runs sipp with a stats file; prints "successful failed elapsed_s".
sipp_stats() {
  local stf="$work/stats-$RANDOM.csv"
  "$SIPP" "$@" -trace_stat -stf "$stf" -fd 60 -nostdin -timeout ${SIPP_TIMEOUT:-120}s >/dev/null 2>&1 || true
  python3 - "$stf" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h, last = rows[0], rows[-1]
col = lambda name: last[h.index(name)]
# StartTime and CurrentTime are "date<TAB>time<TAB>epoch.micros"
epoch = lambda v: float(v.split('\t')[-1])
elapsed = epoch(col('CurrentTime')) - epoch(col('StartTime'))
print(col('SuccessfulCall(C)'), col('FailedCall(C)'), f"{elapsed:.3f}")
PY
}

bench_register() {
  echo "== REGISTER + digest auth (each 'call' = REGISTER, 401, REGISTER with Authorization, 200)"
  start_switch
  local best=0
  for rate in ${RATES:-4000 8000 10000 12000 14000 16000}; do
    local total=$((rate * 5)) c0 c1
    c0=$(cpu_ticks)
    read -r ok fail secs < <(sipp_stats -sf "$here/reg_auth.xml" -inf "$work/users.csv" 127.0.0.1:$SIP_PORT \
      -i 127.0.0.1 -p 0 -r "$rate" -rp 1000 -m "$total" -l 20000)
    local achieved fpct
    achieved=$(python3 -c "print(int($ok / $secs) if $secs > 0 else 0)")
    fpct=$(python3 -c "print(round(100.0 * $fail / max(1, $ok + $fail), 3))")
    c1=$(cpu_ticks)
    echo "target ${rate}/s: ${ok} ok, ${fail} failed (${fpct} %), ${achieved} registrations/s, $(cpu_us "$c0" "$c1" "$ok") us CPU per registration"
    if python3 -c "import sys; sys.exit(0 if $fpct < 0.1 else 1)"; then
      [ "$achieved" -gt "$best" ] && best=$achieved
    fi
  done
  echo "RESULT register_auth_per_s=$best (best achieved with < 0.1 % failures)"
  stop_switch
}

register_callee() {
  # one REGISTER of extension 10001 from the port the UAS will listen on
  echo "SEQUENTIAL" > "$work/callee.csv"; echo "10001;[authentication username=10001 password=pw10001]" >> "$work/callee.csv"
  "$SIPP" -sf "$here/reg_auth.xml" -inf "$work/callee.csv" 127.0.0.1:$SIP_PORT -i 127.0.0.1 -p "$1" \
    -m 1 -nostdin -timeout 10s >/dev/null 2>&1
}

# HOOKS=N: N webhook subscriptions (channel_create, _answer, _bridge, _destroy in turn), each
# delivering to examples/webhook_sink on loopback; prints what the sink received.
sink_pid=""
subscribe_hooks() {
  [ -n "${HOOKS:-}" ] || return 0
  local sink=${SINK_BIN:-$root/target/release/examples/webhook_sink} port=$((HTTP_PORT + 10)) key i hook
  [ -x "$sink" ] || cargo build --release --example webhook_sink
  "$sink" 127.0.0.1:$port 2>/dev/null &
  sink_pid=$!
  sleep 0.3
  key=$("$SY_BIN" key create --account bench --type developer --data-dir "$work/data" 2>/dev/null \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['key'])")
  local hooks=(channel_create channel_answer channel_bridge channel_destroy)
  for ((i = 0; i < HOOKS; i++)); do
    hook=${hooks[$((i % 4))]}
    curl -sf -X PUT "http://127.0.0.1:$HTTP_PORT/v2/accounts/bench/webhooks" -H "X-Auth-Token: $key" \
      -d "{\"data\": {\"name\": \"bench-$i\", \"uri\": \"http://127.0.0.1:$port/hook\", \"hook\": \"$hook\", \"format\": \"json\"}}" \
      >/dev/null || { echo "subscription $i refused (is --webhooks-allow-private in SY_EXTRA?)" >&2; exit 1; }
  done
  echo "webhooks: $HOOKS subscriptions delivering to 127.0.0.1:$port"
}
hooks_report() {
  [ -n "$sink_pid" ] || return 0
  sleep 2
  echo "webhook sink received $(curl -s "http://127.0.0.1:$((HTTP_PORT + 10))/count")"
  kill "$sink_pid" 2>/dev/null || true; sink_pid=""
}

bench_calls() {
  local stale=${1:-}
  echo "== calls set up and torn down through the B2BUA (INVITE/407/INVITE/180/200/ACK/BYE on both legs)${stale:+, callee with a stale contact ($stale)}"
  start_switch
  local uas_port=$((SIP_PORT + 100)) best=0 hole=""
  if [ -n "$stale" ]; then
    # a second binding of 10001 at a port where no phone answers any more
    register_callee $((SIP_PORT + 101))
    if [ "$stale" = blackhole ]; then
      python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(('127.0.0.1', $((SIP_PORT + 101))))
while True: s.recv(65536)
" &
      hole=$!
    fi
  fi
  register_callee $uas_port
  subscribe_hooks
  "$SIPP" -sf "$here/call_uas.xml" -i 127.0.0.1 -p $uas_port -nostdin -bg >/dev/null 2>&1 || true
  sleep 0.5
  [ -n "${SNAPSHOT:-}" ] && snapshot before
  for rate in ${CALL_RATES:-200 400 600 800 1000 1200}; do
    local total=$((rate * ${CALL_SECONDS:-5})) c0 c1
    c0=$(cpu_ticks)
    read -r ok fail secs < <(sipp_stats -sf "$here/call_uac.xml" 127.0.0.1:$SIP_PORT -i 127.0.0.1 -p 0 \
      -key caller 10000 -au 10000 -ap pw10000 -key callee 10001 -r "$rate" -rp 1000 -m "$total" -l 20000 -d 0)
    local achieved fpct
    achieved=$(python3 -c "print(int($ok / $secs) if $secs > 0 else 0)")
    fpct=$(python3 -c "print(round(100.0 * $fail / max(1, $ok + $fail), 3))")
    c1=$(cpu_ticks)
    echo "target ${rate}/s: ${ok} ok, ${fail} failed (${fpct} %), ${achieved} calls/s, $(cpu_us "$c0" "$c1" "$ok") us CPU per call"
    if python3 -c "import sys; sys.exit(0 if $fpct < 0.1 else 1)"; then
      [ "$achieved" -gt "$best" ] && best=$achieved
    fi
  done
  if [ -n "${SNAPSHOT:-}" ]; then
    # transactions linger for timer J/K (32 s) after the last call
    snapshot "right after the load"; sleep 40; snapshot "40 s later"
  fi
  pkill -f "call_uas.xml" 2>/dev/null || true
  [ -n "$hole" ] && kill "$hole" 2>/dev/null || true
  echo "RESULT calls_per_s=$best (best achieved with < 0.1 % failures)${stale:+ stale=$stale} ports_in_use_after=$(metric switchyard_rtp_port_pairs_in_use) active_calls_after=$(metric switchyard_active_calls)"
  hooks_report
  stop_switch
}

# What the switch holds now: descriptors, threads, runtime tasks, port pairs, calls,
# transactions, relayed calls and its resident memory.
snapshot() {
  local m fds rss
  m=$(curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" || true)
  fds=$(ls "/proc/$sy_pid/fd" 2>/dev/null | wc -l)
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$sy_pid/status" 2>/dev/null)
  echo "SNAPSHOT $1: fds=$fds threads=$(echo "$m" | awk '/^switchyard_process_threads / {print $2}')" \
    "tasks=$(echo "$m" | awk '/^switchyard_runtime_alive_tasks / {print $2}')" \
    "port_pairs=$(echo "$m" | awk '/^switchyard_rtp_port_pairs_in_use / {print $2}')" \
    "calls=$(echo "$m" | awk '/^switchyard_active_calls / {print $2}')" \
    "channels=$(echo "$m" | awk '/^switchyard_active_channels / {print $2}')" \
    "transactions=$(echo "$m" | awk '/^switchyard_transactions / {print $2}')" \
    "relay_units=$(echo "$m" | awk '/^switchyard_relay_units / {print $2}') rss_kib=$rss"
}

# $AGENTS agents (10001..) registered from one port, a SIPp UAS answering there.
register_agents() {
  local port=$1
  echo "SEQUENTIAL" > "$work/agents.csv"
  for ((i = 1; i <= AGENTS; i++)); do n=$((10000 + i)); echo "$n;[authentication username=$n password=pw$n]" >> "$work/agents.csv"; done
  "$SIPP" -sf "$here/reg_auth.xml" -inf "$work/agents.csv" 127.0.0.1:$SIP_PORT -i 127.0.0.1 -p "$port" \
    -m "$AGENTS" -r 200 -nostdin -timeout 30s >/dev/null 2>&1
  echo "registered agents: $(metric switchyard_registrations)"
  "$SIPP" -sf "$here/call_uas.xml" -i 127.0.0.1 -p "$port" -nostdin -bg >/dev/null 2>&1 || true
}

# Calls/s through IVR (key 1 by SIP INFO) -> queue -> agent, next to plain extension
# calls with the same hold time: $AGENTS agents (10001..) registered at one SIPp UAS.
bench_queue_calls() {
  local hold=${HOLD_MS:-500}
  echo "== calls/s: IVR -> queue -> agent vs plain extension calls (caller on the line ${hold} ms)"
  start_switch
  local uas_port=$((SIP_PORT + 100))
  register_agents $uas_port
  sleep 2 # the queue driver sees the registrations within a second
  for rate in ${CALL_RATES:-100 200 300 400}; do
    local total=$((rate * 5))
    for path in plain queue; do
      local c0 c1 a0 a1 ok fail secs
      a0=$(curl -s "http://127.0.0.1:$HTTP_PORT/queues" | python3 -c "import json,sys; q=[q for q in json.load(sys.stdin)['queues'] if q['queue_id']=='bench'][0]; print(q['answered'])")
      c0=$(cpu_ticks)
      if [ $path = plain ]; then
        read -r ok fail secs < <(sipp_stats -sf "$here/call_uac.xml" 127.0.0.1:$SIP_PORT -i 127.0.0.1 -p 0 \
          -key caller 10000 -au 10000 -ap pw10000 -key callee 10001 -r "$rate" -rp 1000 -m "$total" -l 20000 -d "$hold")
      else
        read -r ok fail secs < <(sipp_stats -sf "$here/ivr_uac.xml" 127.0.0.1:$SIP_PORT -i 127.0.0.1 -p 0 \
          -key caller 10000 -au 10000 -ap pw10000 -key callee 9200 -r "$rate" -rp 1000 -m "$total" -l 20000 -d "$hold")
      fi
      c1=$(cpu_ticks)
      sleep 1
      a1=$(curl -s "http://127.0.0.1:$HTTP_PORT/queues" | python3 -c "import json,sys; q=[q for q in json.load(sys.stdin)['queues'] if q['queue_id']=='bench'][0]; print(q['answered'])")
      local achieved fpct
      achieved=$(python3 -c "print(int($ok / $secs) if $secs > 0 else 0)")
      fpct=$(python3 -c "print(round(100.0 * $fail / max(1, $ok + $fail), 3))")
      local extra=""
      [ $path = queue ] && extra=", answered by an agent: $((a1 - a0))"
      echo "target ${rate}/s $path: ${ok} ok, ${fail} failed (${fpct} %), ${achieved} calls/s, $(cpu_us "$c0" "$c1" "$ok") us CPU per call$extra"
      sleep 2
    done
  done
  pkill -f "call_uas.xml" 2>/dev/null || true
  echo "RESULT active_calls_after=$(metric switchyard_active_calls) ports_in_use_after=$(metric switchyard_rtp_port_pairs_in_use)"
  stop_switch
}

metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# Passes: every call up, loss <= 0.1 %, one-way delay p99 < 10 ms.
bench_rtp() {
  local who=${PEER:-switchyard}
  echo "== $who: concurrent calls with RTP relayed: 20 ms G.711 both ways, loss and one-way delay at each far end"
  local load=${RTP_LOAD:-$root/target/release/examples/rtp_load}
  [ -x "$load" ] || cargo build --release --example rtp_load
  start_switch
  local best=0 target=127.0.0.1:$SIP_PORT mode=relay
  if [ "$who" = rtpengine ]; then target=127.0.0.1:$((SIP_PORT + 20)); mode=rtpengine; fi
  for n in ${RTP_CALLS:-250 500 750 1000}; do
    local c0 c1 line t0 t1
    c0=$(cpu_ticks); t0=$(date +%s.%N)
    # the system under test's CPU over the measured period (all calls up) comes from the
    # generator (sut_cpu_share, sut_cpu_us_per_packet); the whole run's below
    line=$(WATCH_PID=$sy_pid $(pin "${LOAD_CPUS:-}") "$load" "$target" "$n" "${RTP_SECONDS:-10}" 10000 pw10000 10001 pw10001 $mode | grep RTPLOAD)
    c1=$(cpu_ticks); t1=$(date +%s.%N)
    local sent loss up p99
    sent=$(echo "$line" | sed -E 's/.*sent=([0-9]+).*/\1/')
    loss=$(echo "$line" | sed -E 's/.*loss_pct=([0-9.]+).*/\1/')
    up=$(echo "$line" | sed -E 's/.*up=([0-9]+).*/\1/')
    p99=$(echo "$line" | sed -nE 's/.*delay_p99_ms=([0-9.]+).*/\1/p')
    echo "$line run_cpu_us_per_packet=$(cpu_us "$c0" "$c1" "$sent")"
    if [ "$up" = "$n" ] && python3 -c "import sys; sys.exit(0 if $loss <= 0.1 and ${p99:-999} < 10 else 1)"; then best=$n; fi
    sleep 2
  done
  echo "RESULT ${who}_rtp_concurrent_calls=$best (loss <= 0.1 %, p99 < 10 ms)"
  stop_switch
}

# Concurrent transcoded calls: Opus caller (real Opus frames), PCMU callee; the switch
# decodes, resamples and re-encodes every packet. Deadline misses from /metrics.
bench_media() {
  local mode=$1 label=$2 steps=$3
  echo "== $label"
  local load=${RTP_LOAD:-$root/target/release/examples/rtp_load}
  [ -x "$load" ] || cargo build --release --example rtp_load
  start_switch
  local best=0
  for n in $steps; do
    local c0 c1 line f0 f1 l0 l1 s0 s1
    f0=$(metric switchyard_media_frames_total); l0=$(metric switchyard_media_ticks_late_total); s0=$(metric switchyard_media_frames_skipped_total)
    c0=$(cpu_ticks)
    line=$("$load" 127.0.0.1:$SIP_PORT "$n" "${RTP_SECONDS:-10}" 10000 pw10000 "$4" pw10001 "$mode" | grep RTPLOAD)
    c1=$(cpu_ticks)
    sleep 1.5
    f1=$(metric switchyard_media_frames_total); l1=$(metric switchyard_media_ticks_late_total); s1=$(metric switchyard_media_frames_skipped_total)
    local frames=$((f1 - f0)) late=$((l1 - l0)) skipped=$((s1 - s0)) up
    up=$(echo "$line" | sed -E 's/.*up=([0-9]+).*/\1/')
    echo "$line frames=$frames late_ticks=$late skipped_frames=$skipped switch_cpu_us_per_frame=$(cpu_us "$c0" "$c1" "$frames")"
    if [ "$up" = "$n" ] && [ "$skipped" = 0 ]; then best=$n; fi
    sleep 2
  done
  echo "RESULT ${mode}_concurrent_calls_without_skipped_frames=$best"
  stop_switch
}

# The same with SIPp playing a pcap on both sides (for comparison; SIPp's pcap player
# holds a raw socket per stream, which on loopback costs every UDP packet extra work).
bench_rtp_sipp() {
  if [ -z "$PCAP" ]; then
    PCAP="$work/tone.pcap"
    python3 "$here/gen_pcap.py" "$PCAP" "${RTP_SECONDS:-20}"
  fi
  echo "== concurrent calls with RTP relayed by SIPp pcap play (loss = 1 - relayed/sent)"
  local pkts_per_pcap
  pkts_per_pcap=$(python3 - "$PCAP" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
off, n = 24, 0
while off + 16 <= len(d):
    incl = struct.unpack('<I', d[off + 8:off + 12])[0]
    off += 16 + incl
    n += 1
print(n)
PY
)
  start_switch
  local uas_port=$((SIP_PORT + 100)) best=0
  register_callee $uas_port
  "$SIPP" -sf "$here/call_uas_rtp.xml" -i 127.0.0.1 -p $uas_port -key pcap "$PCAP" -nostdin -bg >/dev/null 2>&1 || true
  sleep 0.5
  for n in ${RTP_CALLS:-50 100 200}; do
    local before after sent loss
    before=$(metric switchyard_rtp_packets_relayed_total)
    read -r ok fail secs < <(sipp_stats -sf "$here/call_uac_rtp.xml" 127.0.0.1:$SIP_PORT -i 127.0.0.1 -p 0 \
      -key caller 10000 -au 10000 -ap pw10000 -key callee 10001 -key pcap "$PCAP" \
      -r 200 -rp 1000 -m "$n" -l "$n" -d $(( ${RTP_SECONDS:-20} * 1000 + 1000 )))
    sleep 1
    after=$(metric switchyard_rtp_packets_relayed_total)
    sent=$((ok * 2 * pkts_per_pcap))
    loss=$(python3 -c "print(round(100.0 * (1 - ($after - $before) / max(1, $sent)), 3))")
    echo "${n} concurrent calls: ${ok} ok, ${fail} failed, relayed $((after - before)) of ${sent} packets, loss ${loss} %"
    if [ "$fail" = 0 ] && python3 -c "import sys; sys.exit(0 if $loss <= 0.0 else 1)"; then best=$n; fi
  done
  pkill -f "call_uas_rtp.xml" 2>/dev/null || true
  echo "RESULT rtp_sipp_concurrent_calls_without_loss=$best (pcap: $pkts_per_pcap packets per direction per call)"
  stop_switch
}

gen_dialplan

# The voice API under load: wrk on GET /availability/queues (50 queues of 10 agents,
# $AGENTS agents registered, $BG_RATE calls/s running 10000 -> 10001 meanwhile),
# keyed and public; then click-to-call starts per second (POST /call/outbound from the
# agents to a one-second app, on 4 connections).
bench_voice_api() {
  QUEUES=${QUEUES:-50}
  gen_dialplan
  echo "== voice API: GET /availability/queues with $QUEUES queues, $AGENTS agents, ${BG_RATE:-100} calls/s running"
  SY_EXTRA="--api-rate-limit 1000000000 --api-public-rate-limit 1000000000 ${SY_EXTRA:-}" start_switch
  local uas_port=$((SIP_PORT + 100))
  register_agents $uas_port
  local key
  key=$("$SY_BIN" key create --account bench --type developer --data-dir "$work/data" | python3 -c "import json,sys; print(json.load(sys.stdin)['key'])")
  local secs=${WRK_SECS:-15}
  "$SIPP" -sf "$here/call_uac.xml" 127.0.0.1:$SIP_PORT -i 127.0.0.1 -p 0 -key caller 10000 -au 10000 -ap pw10000 \
    -key callee 10001 -r "${BG_RATE:-100}" -rp 1000 -m $(( ${BG_RATE:-100} * (2 * secs + 10) )) -l 20000 -d 1000 \
    -nostdin -timeout $((2 * secs + 30))s >/dev/null 2>&1 &
  local bg=$!
  sleep 2
  local url="http://127.0.0.1:$HTTP_PORT/v3/voice/bench/availability/queues"
  curl -s -H "X-API-Key: $key" "$url" | python3 -c "import json,sys; r=json.load(sys.stdin)['result']; print('queues:', len(r), 'agents online:', sum(q['agents_online'] for q in r))"
  for mode in keyed public; do
    local hdr=()
    [ $mode = keyed ] && hdr=(-H "X-API-Key: $key")
    local c0 c1 out
    c0=$(cpu_ticks)
    out=$(wrk -t1 -c${WRK_CONNS:-32} -d${secs}s --latency "${hdr[@]}" "$url")
    c1=$(cpu_ticks)
    local rps p99 n
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "RESULT $mode: ${rps} req/s, p99 ${p99}, $(cpu_us "$c0" "$c1" "$n") us switch CPU per request ($(echo "$out" | grep -c 'Non-2xx') runs with non-2xx)"
  done
  wait "$bg" 2>/dev/null || true
  echo "== click-to-call: POST /call/outbound from the agents to app 9001 (1 s), 4 connections"
  python3 - "$HTTP_PORT" "$key" "${C2C_CALLS:-2000}" "$AGENTS" <<'PY'
import http.client, json, sys, threading, time
port, key, total, agents = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ok = [0] * 4
def run(w):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(w, total, 4):
        body = json.dumps({"from": str(10001 + i % agents), "to": "9001"})
        c.request("POST", "/v3/voice/bench/call/outbound", body, {"X-API-Key": key, "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        ok[w] += r.status == 200
t0 = time.time()
ts = [threading.Thread(target=run, args=(w,)) for w in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.time() - t0
print(f"RESULT click-to-call: {sum(ok)} of {total} started in {dt:.2f} s = {sum(ok)/dt:.0f} starts/s")
PY
  sleep 4
  echo "after: active calls $(metric switchyard_active_calls), calls total $(metric switchyard_calls_total), RTP ports in use $(metric switchyard_rtp_port_pairs_in_use)"
  pkill -f "call_uas.xml" 2>/dev/null || true
  stop_switch
}

# The merchant API: accepted SMS dispatch requests per second with a fresh Idempotency-Key
# each (wrk, MERCHANT_CONNS connections), the simulator as provider; then accept-to-hand-off
# latency at a steady HANDOFF_RATE (a paced client), read from the messages' lifecycle.
# With SWITCHYARD_DATABASE_URL=postgres://… it runs on PostgreSQL: that database's public
# schema is dropped before each run (use a database of its own).
reset_merchant_db() {
  case "${SWITCHYARD_DATABASE_URL:-}" in
    postgres*) psql "$SWITCHYARD_DATABASE_URL" -q -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public" ;;
  esac
}

bench_merchant() {
  gen_dialplan
  reset_merchant_db
  echo "== merchant API: POST /api/v1/messages/sms with Idempotency-Key (simulator delivery)"
  SY_EXTRA="--merchant-api-rate 1000000000 --dispatch-rate ${DISPATCH_RATE:-10000} --dispatch-merchant-rate ${DISPATCH_RATE:-10000} ${SY_EXTRA:-}" start_switch
  local pair
  pair=$("$SY_BIN" key create --account bench --type merchant --data-dir "$work/data")
  export MKEY MSECRET MERCHANT=bench
  MKEY=$(echo "$pair" | python3 -c "import json,sys; print(json.load(sys.stdin)['key'])")
  MSECRET=$(echo "$pair" | python3 -c "import json,sys; print(json.load(sys.stdin)['secret'])")
  curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/api/v1/merchants" -H "Content-Type: application/json" \
    -H "X-API-KEY: $MKEY" -H "X-API-SECRET: $MSECRET" \
    -d '{"merchantId":"bench","smsLimit":1000000000,"voiceMinutesLimit":1000,"emailLimit":1000}' >/dev/null
  local secs=${WRK_SECS:-15} c0 c1 out
  c0=$(cpu_ticks)
  out=$(wrk -t2 -c${MERCHANT_CONNS:-64} -d${secs}s --latency -s "$here/merchant_sms.lua" "http://127.0.0.1:$HTTP_PORT")
  c1=$(cpu_ticks)
  local rps p99 n bad
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  echo "RESULT accepted: ${rps} req/s, p99 ${p99}, non-2xx ${bad:-0} of $n, $(cpu_us "$c0" "$c1" "$n") us switch CPU per request"
  sleep 2
  curl -s "http://127.0.0.1:$HTTP_PORT/admin/merchant/lanes" | python3 -c "import json,sys; l=[x for x in json.load(sys.stdin)['lanes'] if x['lane']=='sms'][0]; print('sms lane after the burst: backlog', l['backlog'], 'delivered', l['delivered'], 'awaiting', l['awaitingOutcome'])"
  stop_switch
  # hand-off latency at a steady rate the lane keeps up with
  start_switch_merchant_again() { SY_EXTRA="--merchant-api-rate 1000000000 --dispatch-rate ${DISPATCH_RATE:-10000} --dispatch-merchant-rate ${DISPATCH_RATE:-10000} ${SY_EXTRA:-}" start_switch; }
  reset_merchant_db
  start_switch_merchant_again
  pair=$("$SY_BIN" key create --account bench --type merchant --data-dir "$work/data")
  MKEY=$(echo "$pair" | python3 -c "import json,sys; print(json.load(sys.stdin)['key'])")
  MSECRET=$(echo "$pair" | python3 -c "import json,sys; print(json.load(sys.stdin)['secret'])")
  curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/api/v1/merchants" -H "Content-Type: application/json" \
    -H "X-API-KEY: $MKEY" -H "X-API-SECRET: $MSECRET" \
    -d '{"merchantId":"bench","smsLimit":1000000000,"voiceMinutesLimit":1000,"emailLimit":1000}' >/dev/null
  python3 - "$HTTP_PORT" "$MKEY" "$MSECRET" "${HANDOFF_RATE:-5000}" "${HANDOFF_SECS:-10}" <<'PY'
import http.client, json, sys, threading, time
port, key, secret, rate, secs = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
workers = 16
def run(w):
    c = http.client.HTTPConnection("127.0.0.1", port)
    per = rate / workers
    t0 = time.time()
    for i in range(int(per * secs)):
        due = t0 + i / per
        d = due - time.time()
        if d > 0: time.sleep(d)
        body = json.dumps({"merchantId": "bench", "to": "+18135551234", "message": "steady", "type": "OTP"})
        c.request("POST", "/api/v1/messages/sms", body, {"X-API-KEY": key, "X-API-SECRET": secret,
                  "Idempotency-Key": f"steady-{w}-{i}", "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
ts = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
[t.start() for t in ts]; [t.join() for t in ts]
PY
  sleep 3
  python3 - "$work/data/switchyard.db" "${HANDOFF_RATE:-5000}" <<'PY'
import os, sqlite3, subprocess, sys
q = ("SELECT e.at - m.created_at FROM message_events e JOIN merchant_messages m ON m.id = e.message_id "
     "WHERE e.status = 'SENT' ORDER BY 1")
url = os.environ.get("SWITCHYARD_DATABASE_URL", "")
if url.startswith("postgres"):
    out = subprocess.run(["psql", url, "-At", "-c", q], capture_output=True, text=True, check=True).stdout
    rows = [int(x) for x in out.split()]
else:
    rows = [r[0] for r in sqlite3.connect(sys.argv[1]).execute(q)]
if not rows:
    print("no hand-offs recorded"); sys.exit(0)
q = lambda p: rows[min(len(rows) - 1, int(p * len(rows)))]
print(f"RESULT hand-off at {sys.argv[2]}/s: {len(rows)} messages, accept-to-provider p50 {q(0.5)} ms, p99 {q(0.99)} ms, max {rows[-1]} ms")
PY
  stop_switch
}

case "${1:-all}" in
  register) bench_register ;;
  calls) bench_calls ;;
  calls-stale) bench_calls "${STALE:-icmp}" ;;
  hygiene) SIPP_TIMEOUT=$((${HYGIENE_SECONDS:-600} + 120)) SNAPSHOT=1 CALL_SECONDS=${HYGIENE_SECONDS:-600} CALL_RATES=${HYGIENE_RATE:-2400} bench_calls icmp ;;
  rtp) bench_rtp ;;
  rtp-compare) bench_rtp; PEER=rtpengine bench_rtp ;;
  rtp-sipp) bench_rtp_sipp ;;
  transcode) bench_media opus "concurrent Opus<->PCMU transcoded calls" "${MEDIA_CALLS:-200 300 400}" 10001 ;;
  browser) bench_media webrtc "concurrent browser-leg calls (ICE-lite, DTLS-SRTP, Opus<->PCMU)" "${MEDIA_CALLS:-200 300 400}" 10001 ;;
  playback) bench_media app "concurrent prompt playback channels (music on hold, PCMA)" "${MEDIA_CALLS:-500 1000 2000}" 9000 ;;
  queue-moh) bench_media app "concurrent callers waiting in an ACD queue (music on hold, PCMA)" "${MEDIA_CALLS:-500 1000 1500}" 9100 ;;
  queue-calls) bench_queue_calls ;;
  voice-api) bench_voice_api ;;
  merchant) bench_merchant ;;
  all) bench_register; bench_calls; bench_rtp ;;
  *) echo "usage: $0 register|calls|calls-stale|hygiene|rtp|rtp-compare|rtp-sipp|transcode|browser|playback|queue-moh|queue-calls|all" >&2; exit 2 ;;
esac
