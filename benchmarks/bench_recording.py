"""Call recording benchmark: concurrent recorded calls per core, and the event loop's lag.

    python benchmarks/bench_recording.py [--calls 200] [--seconds 15]

`calls` bridged calls are relayed in this process by the trunk's own RTP code (a debtor
and a collector `RtpEndpoint` per call, bridged by `RtpForwarder`, on real UDP sockets);
the RTP generator of bench_sip.py, in a separate process, plays both phones of every call
(20 ms PCMU packets each way) so only the relay's side is measured here. Two phases in
the same run, same calls, same sockets:
  baseline: the relay alone;
  recorded: the relay with a recording tap on every debtor leg (dialer.media.recording:
            the writer thread writing two-channel WAV files to a temporary directory).
For each: the CPU this process used (all threads: the writer's too) as cores, calls per
core (= calls / cores; and from the CPU per relayed packet, which holds when a loaded
machine starves the generator), and the event-loop lag (a 50 ms timer's lateness, as the daemon's
probe measures it) p50 / p99. The target: >= 200 recorded calls per core with lag p99 at
most 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dialer.media.recording import Recorder, RecordingPlan  # noqa: E402
from dialer.media.recording_settings import RecordingSettings  # noqa: E402
from dialer.media.switch_interval import short_switch_interval  # noqa: E402
from dialer.metrics import Metrics  # noqa: E402
from dialer.telephony.rtp_forwarder import RtpEndpoint, RtpForwarder  # noqa: E402

GENERATOR = ROOT / "benchmarks" / "bench_sip.py"
LAG_PROBE = 0.05
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Phase:
    name: str
    calls: int
    cores: float
    lag_p50_ms: float
    lag_p99_ms: float
    relayed: int
    bytes_written: int = 0
    dropped: int = 0

    seconds: float = 0.0

    @property
    def per_core(self) -> float:
        return self.calls / self.cores if self.cores > 0 else float("inf")

    @property
    def per_core_at_full_rate(self) -> float:
        """Calls per core from the CPU each relayed packet cost: a call relays 100 packets
        a second (50 each way). On a loaded machine the generator falls behind and fewer
        packets flow than `calls` would send; this figure does not depend on that."""
        if self.relayed == 0:
            return float("nan")
        cpu_per_packet = self.cores * self.seconds / self.relayed
        return 1.0 / (cpu_per_packet * 100.0)


async def _endpoint() -> RtpEndpoint:
    loop = asyncio.get_running_loop()
    endpoint = RtpEndpoint()
    await loop.create_datagram_endpoint(lambda: endpoint, local_addr=("127.0.0.1", 0))
    return endpoint


async def _measure(name: str, calls: int, seconds: float, legs: list[RtpEndpoint]) -> Phase:
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    relayed = sum(leg.sent for leg in legs)
    cpu, wall = cpu_seconds(), time.monotonic()
    end = loop.time() + seconds
    while loop.time() < end:
        due = loop.time() + LAG_PROBE
        await asyncio.sleep(LAG_PROBE)
        lags.append(max(0.0, loop.time() - due))
    cores = (cpu_seconds() - cpu) / (time.monotonic() - wall)
    return Phase(
        name,
        calls,
        cores,
        1000 * pct(lags, 0.5),
        1000 * pct(lags, 0.99),
        sum(leg.sent for leg in legs) - relayed,
        seconds=seconds,
    )


async def run(calls: int, seconds: float) -> list[Phase]:
    gen = subprocess.Popen(
        [sys.executable, str(GENERATOR), "--rtp-generator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert gen.stdin is not None and gen.stdout is not None
    phones = json.loads(gen.stdout.readline())
    forwarder = RtpForwarder()
    debtors = [await _endpoint() for _ in range(calls)]
    agents = [await _endpoint() for _ in range(calls)]
    phases: list[Phase] = []
    try:
        for debtor, agent in zip(debtors, agents, strict=True):
            debtor.point_at(("127.0.0.1", phones["debtor"]), None, True)
            agent.point_at(("127.0.0.1", phones["agent"]), None, True)
            forwarder.bridge(debtor, agent)
        targets = [[d.port, "debtor"] for d in debtors] + [[a.port, "agent"] for a in agents]
        gen.stdin.write(json.dumps({"targets": targets}) + "\n")
        gen.stdin.flush()
        legs = debtors + agents
        await asyncio.sleep(2.0)  # media flowing everywhere before measuring
        phases.append(await _measure("baseline: relay only", calls, seconds, legs))

        metrics = Metrics()
        with tempfile.TemporaryDirectory(prefix="bench_recording_") as directory:
            recorder = Recorder(RecordingSettings(directory=Path(directory)), metrics=metrics)
            recorder.start()
            for n, debtor in enumerate(debtors):
                plan = RecordingPlan(f"bench.{n}", "bench", T0, T0 + timedelta(days=1))
                tap = recorder.tap(plan)
                assert tap is not None
                debtor.taps.append(tap)
            await asyncio.sleep(1.0)
            recorded = await _measure("recorded: relay + recording", calls, seconds, legs)
            for debtor in debtors:
                for tap in debtor.taps:
                    tap.close()
                debtor.taps.clear()
            await recorder.stop()
            sample = metrics.registry.get_sample_value
            recorded.bytes_written = int(
                sample("dialer_recording_bytes_total", {"campaign": "bench"}) or 0
            )
            recorded.dropped = recorder.dropped
            written = sample("dialer_recordings_written_total", {"campaign": "bench"})
            assert written == calls and not recorder.failures, (written, recorder.failures)
        phases.append(recorded)
    finally:
        gen.stdin.write("stop\n")
        gen.stdin.flush()
        gen.wait(10)
        forwarder.close()
        for leg in debtors + agents:
            leg.close()
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with short_switch_interval():  # as the daemon runs (dialer.media.switch_interval)
        base, recorded = asyncio.run(run(args.calls, args.seconds))
    print(f"recording benchmark ({args.calls} bridged calls, {args.seconds:g} s each phase)")
    for phase in (base, recorded):
        print(
            f"  {phase.name:30s} cpu {phase.cores:5.2f} core  {phase.per_core:7.0f} calls/core"
            f"  loop lag p50 {phase.lag_p50_ms:5.1f} ms p99 {phase.lag_p99_ms:5.1f} ms"
            f"  packets relayed {phase.relayed}"
            f" ({phase.relayed / phase.seconds / phase.calls / 100:.0%} of full rate)"
            f"  -> {phase.per_core_at_full_rate:6.0f} calls/core at full rate"
        )
    seconds = args.seconds + 1.0 + 2.0  # what the files hold, about
    print(
        f"  recorded {recorded.bytes_written / 1e6:.1f} MB "
        f"({recorded.bytes_written / args.calls / seconds / 1000:.1f} kB/s a call), "
        f"{recorded.dropped} frames dropped"
    )
    print(f"  ratio recorded / baseline calls per core: {recorded.per_core / base.per_core:.2f}")
    base_full, rec_full = base.per_core_at_full_rate, recorded.per_core_at_full_rate
    print(f"  ratio at full rate: {rec_full / base_full:.2f}")
    met = min(recorded.per_core, rec_full) >= 200 and recorded.lag_p99_ms <= 20.0
    verdict = "met" if met else "NOT met"
    print(f"target: >= 200 recorded calls per core, loop lag p99 <= 20 ms: {verdict}")


if __name__ == "__main__":
    main()
