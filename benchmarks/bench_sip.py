"""SIP trunk benchmark: answered calls one process holds, 200 OK -> bridge time, placement rate.

    python benchmarks/bench_sip.py [--calls 200] [--collectors 100] [--cps 200] [--seconds 10]

Needs sipp (Debian package sip-tester). Two sipp processes play the debtors' and the
collectors' phones; a separate RTP generator process (this file with --rtp-generator) plays
their media: 20 ms PCMU packets into every debtor and collector leg, counting what the
trunk forwards back. The trunk runs here, in this process, and only its CPU is measured.

Phases: (1) place `calls` INVITEs (ring 1 s, then answer) and log in `collectors` nailed-up
legs; (2) as each call is answered, bridge it to a free collector (as the engine would),
recording 200 OK -> bridge; (3) hold every call with media flowing for `seconds` and
measure CPU. Baseline (same run, same conditions): the bridged media through bare asyncio
UDP relays with no SIP at all, i.e. the floor any Python forwarder pays.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "telephony" / "scenarios" / "uas.xml"


# -- the RTP generator (a separate process) -------------------------------------------------
def rtp_generator() -> None:
    """stdin: one JSON line {"targets": [[port, which], ...]}; then 'stop'. stdout: counts."""
    socks = {w: socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for w in ("debtor", "agent")}
    for sock in socks.values():
        sock.bind(("127.0.0.1", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.setblocking(False)
    print(json.dumps({w: s.getsockname()[1] for w, s in socks.items()}), flush=True)
    targets = [(int(p), w) for p, w in json.loads(sys.stdin.readline())["targets"]]
    payload = os.urandom(160)
    received = sent = 0
    seq = 0
    start = time.monotonic()
    tick = 0
    while True:
        if select.select([sys.stdin], [], [], 0)[0]:
            break
        seq = (seq + 1) & 0xFFFF
        header = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0xBEEF)
        for port, which in targets:
            try:
                socks[which].sendto(header + payload, ("127.0.0.1", port))
                sent += 1
            except BlockingIOError:
                pass
        tick += 1
        deadline = start + tick * 0.020
        while (wait := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(socks.values()), [], [], wait)
            for sock in ready:
                while True:
                    try:
                        sock.recv(2048)
                        received += 1
                    except BlockingIOError:
                        break
    print(json.dumps({"sent": sent, "received": received}), flush=True)


# -- helpers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sipp(port: int, calls: int, rtpport: int, workdir: str) -> subprocess.Popen[bytes]:
    args = ["sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(port), "-m", str(calls)]
    args += ["-nostdin", "-mp", str(free_port()), "-cp", str(free_port())]
    args += ["-set", "rtpport", str(rtpport), "-timeout", "600s"]
    return subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def wait_bound(port: int) -> None:
    while True:
        text = Path("/proc/net/udp").read_text()
        if f":{port:04X} " in text:
            return
        await asyncio.sleep(0.01)


# -- the benchmark -----------------------------------------------------------------------------
async def run(calls: int, collectors: int, cps: float, seconds: float) -> dict[str, float]:
    from dialer.domain.events import CallAnswered, CallFailed
    from dialer.telephony.port import TrunkEvent
    from dialer.telephony.sip import SipTrunk
    from dialer.telephony.sip_settings import SipTrunkSettings

    gen = subprocess.Popen(
        [sys.executable, __file__, "--rtp-generator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert gen.stdin is not None and gen.stdout is not None
    gen_ports = json.loads(gen.stdout.readline())
    workdir = tempfile.mkdtemp(prefix="bench_sip_")
    debtor_port, agent_port = free_port(), free_port()
    debtors = start_sipp(debtor_port, calls, gen_ports["debtor"], workdir)
    phones = start_sipp(agent_port, collectors, gen_ports["agent"], workdir)
    trunk: SipTrunk | None = None
    try:
        await asyncio.wait_for(asyncio.gather(wait_bound(debtor_port), wait_bound(agent_port)), 10)
        settings = SipTrunkSettings(
            server="127.0.0.1",
            port=debtor_port,
            local_ip="127.0.0.1",
            calls_per_second=cps,
            rtp_port_range=(20000, 40000),
            collectors={
                f"a{i}": f"sip:20000000a{i}@127.0.0.1:{agent_port}" for i in range(collectors)
            },
        )
        trunk = SipTrunk(settings)
        events: asyncio.Queue[TrunkEvent] = asyncio.Queue()
        await trunk.start(events)
        await asyncio.gather(*(trunk.collector_login(f"a{i}", None) for i in range(collectors)))
        free = [f"a{i}" for i in range(collectors)]

        loop = asyncio.get_running_loop()
        cpu0, wall0 = cpu_seconds(), loop.time()
        for i in range(calls):
            await trunk.originate(f"c{i}", f"20001000{i:05d}", 25)
        answered = failed = 0
        while answered + failed < calls:
            event = await asyncio.wait_for(events.get(), 30)
            if isinstance(event, CallAnswered):
                answered += 1
                if free:
                    await trunk.bridge(event.call_id, free.pop())
            elif isinstance(event, CallFailed):
                failed += 1
        setup_cpu, setup_wall = cpu_seconds() - cpu0, loop.time() - wall0
        span = trunk.stats.invite_span_seconds  # first to last INVITE sent (debtors only)
        placed_rate = (calls - 1) / span if calls > 1 and span > 0 else float("nan")

        targets = [[trunk.call_rtp_port(f"c{i}"), "debtor"] for i in range(calls)]
        targets += [[trunk.collector_rtp_port(f"a{i}"), "agent"] for i in range(collectors)]
        gen.stdin.write(json.dumps({"targets": targets}) + "\n")
        gen.stdin.flush()
        await asyncio.sleep(1.0)  # let the media settle
        before = trunk.stats
        in0, out0 = before.rtp_received, before.rtp_sent
        cpu1, wall1 = cpu_seconds(), loop.time()
        await asyncio.sleep(seconds)
        hold_cpu, hold_wall = cpu_seconds() - cpu1, loop.time() - wall1
        after = trunk.stats
        trunk_in = (after.rtp_received - in0) / hold_wall
        trunk_out = (after.rtp_sent - out0) / hold_wall
        held = trunk.stats.active_calls
        latencies = list(trunk.stats.answer_to_bridge)
        gen.stdin.write("stop\n")
        gen.stdin.flush()
        counts = json.loads(gen.stdout.readline())
        bridged_legs = 2 * min(answered, collectors)
        # the baseline runs now, under the same conditions (sipp alive, trunk idle)
        bare = await baseline(min(answered, collectors), seconds)
        return {
            "calls_answered_held": held,
            "collector_legs": collectors,
            "bridges": min(answered, collectors),
            "hold_cpu_cores": hold_cpu / hold_wall,
            "media_pps_offered": (held + collectors) * 50,
            "trunk_rtp_pps_in": trunk_in,
            "trunk_rtp_pps_forwarded": trunk_out,
            "forwarded_expected_pps": bridged_legs * 50,
            "generator_sent": counts["sent"],
            "generator_got_back": counts["received"],
            "answer_to_bridge_p50_ms": 1000 * statistics.median(latencies),
            "answer_to_bridge_p99_ms": 1000 * pct(latencies, 0.99),
            "answer_to_bridge_max_ms": 1000 * max(latencies),
            "invites_per_second_placed": placed_rate,
            "setup_cpu_seconds": setup_cpu,
            "setup_wall_seconds": setup_wall,
            "baseline_bare_relay_cpu_cores": bare,
        }
    finally:
        if trunk is not None:
            await trunk.stop()
        for proc in (debtors, phones, gen):
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


async def baseline(pairs: int, seconds: float) -> float:
    """CPU cores a bare asyncio UDP relay (no SIP, no bookkeeping) spends on the same media."""

    class Relay(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.transport: asyncio.DatagramTransport | None = None
            self.peer: Relay | None = None
            self.remote: tuple[str, int] | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.remote = addr
            peer = self.peer
            if peer is not None and peer.remote is not None and peer.transport is not None:
                peer.transport.sendto(data, peer.remote)

    loop = asyncio.get_running_loop()
    gen = subprocess.Popen(
        [sys.executable, __file__, "--rtp-generator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert gen.stdin is not None and gen.stdout is not None
    gen.stdout.readline()
    transports: list[asyncio.DatagramTransport] = []
    targets: list[list[object]] = []

    async def bind(relay: Relay) -> asyncio.DatagramTransport:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: relay, local_addr=("127.0.0.1", 0)
        )
        return transport

    for _ in range(pairs):
        a, b = Relay(), Relay()
        ta, tb = await bind(a), await bind(b)
        a.peer, b.peer = b, a
        transports += [ta, tb]
        targets += [[ta.get_extra_info("sockname")[1], "debtor"]]
        targets += [[tb.get_extra_info("sockname")[1], "agent"]]
    gen.stdin.write(json.dumps({"targets": targets}) + "\n")
    gen.stdin.flush()
    await asyncio.sleep(1.0)
    cpu0, wall0 = cpu_seconds(), loop.time()
    await asyncio.sleep(seconds)
    cores = (cpu_seconds() - cpu0) / (loop.time() - wall0)
    gen.stdin.write("stop\n")
    gen.stdin.flush()
    gen.stdout.readline()
    gen.kill()
    gen.wait()
    for t in transports:
        t.close()
    return cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--collectors", type=int, default=100)
    parser.add_argument("--cps", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rtp-generator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rtp_generator:
        rtp_generator()
        return
    if shutil.which("sipp") is None:
        sys.exit("bench_sip needs sipp (Debian package sip-tester)")
    sys.path.insert(0, str(ROOT))
    figures = asyncio.run(run(args.calls, args.collectors, args.cps, args.seconds))
    print(f"SIP trunk benchmark ({args.calls} calls, {args.collectors} collectors, {args.cps} cps)")
    for key, value in figures.items():
        print(f"  {key:32s} {value:10.3f}" if isinstance(value, float) else f"  {key:32s} {value}")
    print("  (baseline: the same media through bare asyncio UDP relays, one per bridge)")
    print("targets: held >= 200 with < 1 core; answer-to-bridge p99 < 100 ms")


if __name__ == "__main__":
    main()
