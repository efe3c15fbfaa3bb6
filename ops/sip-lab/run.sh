#!/usr/bin/env bash
# The dialer against real SIP software on one machine (Debian: packages kamailio, baresip).
#
#   ops/sip-lab/run.sh [SECONDS]        (default 60; from anywhere in the checkout)
#
# Starts, all on 127.0.0.1 with free ports:
#   - Kamailio as registrar and proxy with digest auth (tests/telephony/kamailio/registrar.cfg):
#     users dialer (the trunk), 1001 (the collector's phone), three debtor numbers, plus one
#     number that is a subscriber with no phone registered (480) and one nobody knows (404);
#   - a debtor phone: baresip registered as the three debtor numbers, auto-answer; its
#     microphone is 8 s of 440 Hz beeps, and baresip hangs up when that file ends;
#   - a collector phone: baresip registered as 1001, auto-answer, a steady 660 Hz;
# then writes a dialer config (trunk -> Kamailio, registered as `dialer`; one simulated
# collector, sim-001, whose phone is 1001), imports five cases (those five numbers), and runs
# `dialer run` for SECONDS. At the end it prints the store's call attempts and what each
# phone heard (baresip's sndfile dumps). Everything it started is stopped on exit or Ctrl-C.
#
# Environment: LAB_DIR (default var/sip-lab, emptied first), PYTHON (default .venv/bin/python),
# KAMAILIO (default /usr/sbin/kamailio), BARESIP (default baresip), LAB_COLLECTOR_JITTER
# (baresip's jitter_buffer_delay on the collector's phone, default its own 5-10; 0-0 turns it
# off: see README.md, "What was measured").
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURATION=${1:-60}
LAB=${LAB_DIR:-$ROOT/var/sip-lab}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
KAMAILIO=${KAMAILIO:-/usr/sbin/kamailio}
BARESIP=${BARESIP:-baresip}
COLLECTOR_JITTER=${LAB_COLLECTOR_JITTER:-5-10}
CLOCK_START=2026-03-02T15:00:00+00:00 # a Monday, 10:00 in New York: within calling hours

TRUNK_PASSWORD=lab-trunk-secret
DEBTORS=(+12125550181 +12125550182 +12125550183)
OFFLINE=+12125550184 # a subscriber whose phone is not registered: Kamailio answers 480
UNKNOWN=+12125550185 # not a subscriber: 404

case $DURATION in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2 && exit 2 ;; esac
[ -x "$PYTHON" ] || PYTHON=python3
for program in "$KAMAILIO" "$BARESIP"; do
    command -v "$program" >/dev/null || { echo "$program not found (Debian packages kamailio, baresip)" >&2; exit 1; }
done
"$PYTHON" -c 'import dialer' 2>/dev/null || { echo "$PYTHON cannot import dialer (pip install -e .)" >&2; exit 1; }

kamailio_group=""
pids=()
running() { # alive and not a zombie waiting to be reaped
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}
stop() { # PID...: TERM, then KILL whatever is still running after 5 s
    local deadline=$((SECONDS + 5)) pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        while running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
}
cleanup() {
    trap - EXIT INT TERM
    # the phones first: they un-REGISTER, and Kamailio is still there to answer
    if [ ${#pids[@]} -gt 0 ]; then stop "${pids[@]}"; fi
    if [ -n "$kamailio_group" ]; then
        stop "$kamailio_group" # its main process stops its workers
        kill -KILL -- "-$kamailio_group" 2>/dev/null || true
    fi
    wait 2>/dev/null || true # reap them
    echo "sip-lab: stopped kamailio and both phones; files are in $LAB"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lab() { "$PYTHON" "$HERE/lab.py" "$@"; }

rm -rf "$LAB"
mkdir -p "$LAB/kamailio/db" "$LAB/debtor" "$LAB/collector"

# -- Kamailio: db_text tables, then the registrar ---------------------------------------------
printf 'id(int,auto) table_name(string) table_version(int) \n1:subscriber:7\n2:location:9\n' \
    >"$LAB/kamailio/db/version"
{
    echo "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) "
    echo "1:dialer:127.0.0.1:$TRUNK_PASSWORD:-:-"
    echo "2:1001:127.0.0.1:collector-pw:-:-"
    i=3
    for number in "${DEBTORS[@]}" "$OFFLINE"; do
        echo "$i:$number:127.0.0.1:debtor-pw:-:-"
        i=$((i + 1))
    done
} >"$LAB/kamailio/db/subscriber"
KPORT=$(lab port udp)
setsid "$KAMAILIO" -f "$ROOT/tests/telephony/kamailio/registrar.cfg" -DD -E -n 1 -m 16 -M 4 \
    -l "udp:127.0.0.1:$KPORT" -Y "$LAB/kamailio" -w "$LAB/kamailio" \
    -A "DBURL=\"text://$LAB/kamailio/db\"" </dev/null >"$LAB/kamailio/kamailio.log" 2>&1 &
kamailio_group=$! # setsid: its own process group (it forks workers)
lab wait-udp "$KPORT" 10
echo "sip-lab: kamailio on udp:127.0.0.1:$KPORT (log $LAB/kamailio/kamailio.log)"

# -- the phones -------------------------------------------------------------------------------
phone_config() { # DIR JITTER: baresip 1.0 config, SIP on a free UDP+TCP port, WAV in, WAVs out
    local dir=$1 jitter=$2 port
    port=$(lab port both)
    cat >"$dir/config" <<EOF
poll_method epoll
sip_listen 127.0.0.1:$port
net_interface 127.0.0.1
call_local_timeout 120
call_max_calls 4
audio_source aufile,$dir/microphone.wav
audio_player aubridge,play-$(basename "$dir")
audio_alert aubridge,alert-$(basename "$dir")
audio_level no
ausrc_format s16
auplay_format s16
auenc_format s16
audec_format s16
audio_buffer 20-160
rtp_ports 31000-39999
rtcp_mux no
jitter_buffer_delay $jitter
rtp_stats no
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module_tmp account.so
module_app menu.so
snd_path $dir
statmode_default off
EOF
    : >"$dir/contacts"
}
account() { # USER PASSWORD
    echo "<sip:$1@127.0.0.1:$KPORT>;auth_pass=$2;answermode=auto;audio_codecs=pcmu;ptime=20;regint=600"
}

phone_config "$LAB/debtor" 5-10
lab tone "$LAB/debtor/microphone.wav" 8 440 --beeps
for number in "${DEBTORS[@]}"; do account "$number" debtor-pw; done >"$LAB/debtor/accounts"
phone_config "$LAB/collector" "$COLLECTOR_JITTER"
lab tone "$LAB/collector/microphone.wav" $((DURATION + 60)) 660 # longer than the whole run
account 1001 collector-pw >"$LAB/collector/accounts"
for phone in debtor collector; do
    "$BARESIP" -f "$LAB/$phone" </dev/null >"$LAB/$phone/baresip.log" 2>&1 &
    pids+=($!)
done
lab wait-log "$LAB/debtor/baresip.log" "200 OK" "${#DEBTORS[@]}" 15
lab wait-log "$LAB/collector/baresip.log" "200 OK" 1 15
echo "sip-lab: debtor phone registered as ${DEBTORS[*]}; collector phone as 1001"

# -- the dialer -------------------------------------------------------------------------------
WEB_PORT=$(lab port tcp)
cat >"$LAB/dialer.yaml" <<EOF
# written by ops/sip-lab/run.sh
database:
  url: sqlite+aiosqlite:///$LAB/lab.db
web:
  host: 127.0.0.1
  port: $WEB_PORT
trunk:
  kind: sip
  sip:
    server: 127.0.0.1           # Kamailio
    port: $KPORT
    register: true
    username: dialer
    password_env: DIALER_SIP_PASSWORD
    caller_id: "+12125550100"
    caller_name: "Lab Servicing"
    local_ip: 127.0.0.1
    local_port: 0
    rtp_port_range: [20000, 20200]
    calls_per_second: 5
    ring_timeout: 25
    collectors:
      sim-001: "1001"           # a bare user: sip:1001@127.0.0.1:$KPORT, through Kamailio
collectors:
  count: 1
  team: lab-team
  skills: []
  wrap: {dist: fixed, value: 3}
  pause_probability: 0.0
campaigns:
  - name: sip-lab
    compliance_profile: us_tsr_regf
    pacing: {mode: progressive, ratio: 1.5, target_abandon_rate: 0.03, max_lines_per_collector: 2}
    routing: {owner_wait: 0.0, team_wait: 0.0}
    connect_grace: 2.0
    ring_timeout: 15
    caller_id: "+12125550100"
logging:
  level: INFO
  format: auto
default_region: US
demo_cases: 0
drain_timeout: 10
EOF
{
    echo "debtor_ref,name,phone,balance,days_past_due"
    echo "LAB-0001,Alex Archer,${DEBTORS[0]},250.00,15"
    echo "LAB-0002,Blair Dale,${DEBTORS[1]},287.00,22"
    echo "LAB-0003,Casey Grove,${DEBTORS[2]},324.00,29"
    echo "LAB-0004,Dana Jensen,$OFFLINE,361.00,36"
    echo "LAB-0005,Ellis Ford,$UNKNOWN,398.00,43"
} >"$LAB/cases.csv"
export DIALER_SIP_PASSWORD=$TRUNK_PASSWORD
cd "$LAB"
"$PYTHON" -m dialer import-cases "$LAB/cases.csv" --campaign sip-lab --config "$LAB/dialer.yaml"
echo "sip-lab: dialer run for $DURATION s (metrics on http://127.0.0.1:$WEB_PORT/metrics)"
status=0
interrupted=0
trap 'interrupted=1' INT # Ctrl-C reaches the daemon too: it stops dialing and drains
"$PYTHON" -m dialer run --config "$LAB/dialer.yaml" --duration "$DURATION" \
    --clock-start "$CLOCK_START" || status=$?
trap 'exit 130' INT
echo "sip-lab: dialer run exited $status"
lab report "$LAB/lab.db" "$LAB"
[ "$interrupted" = 1 ] && exit 130
exit "$status"
