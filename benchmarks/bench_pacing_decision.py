"""Decision speed of the predictive pacer (not a test).

    python benchmarks/bench_pacing_decision.py

One full decision (no shortcut for an unchanged state) for a 1,000-collector team with
3,000 calls in flight and for a 20-collector team, with the learned models warm (talk
times log-normal, wrap-up gamma, empirical delays). The engine's snapshot arrays are
prepared once (a stub view), so the figure is the pacer's own cost. The progressive pacer's
decision time is measured in the same run as the baseline. Targets (issue 5): <= 2 ms
median for 1,000 collectors, <= 0.2 ms for 20.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from dialer.pacing.base import Pacer, PacingInputs
from dialer.pacing.distributions import Gamma, LogNormal
from dialer.pacing.policies import ProgressivePacer
from dialer.pacing.predictive import PredictivePacer


class StubView:
    def __init__(self, busy: np.ndarray, in_wrap: np.ndarray, ringing: np.ndarray) -> None:
        self._busy, self._wrap, self._ringing = busy, in_wrap, ringing

    def busy_elapsed(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        return self._busy, self._wrap

    def ringing_elapsed(self, now: float) -> np.ndarray:
        return self._ringing


def warm(pacer: PredictivePacer, rng: np.random.Generator) -> None:
    talk, wrap = LogNormal(150.0, 1.0), Gamma(30.0, 0.5)
    for i in range(3000):
        live = rng.random() < 0.3
        delay = rng.uniform(6, 10) if live else rng.exponential(3.0)
        pacer.observe_dial_resolved(float(delay), live, 0.0)
        if i < 1000:
            pacer.observe_talk(float(talk.sample(rng)), 0.0)
            pacer.observe_wrap(float(wrap.sample(rng)), 0.0)


def case(
    collectors: int, in_flight: int, rng: np.random.Generator
) -> tuple[PacingInputs, StubView]:
    ready = max(1, collectors // 20)
    busy = collectors - ready
    wrapping = busy // 6
    inputs = PacingInputs(
        now=1000.0,
        logged_in=collectors,
        ready=ready,
        reserved=0,
        on_call=busy - wrapping,
        wrap_up=wrapping,
        paused=0,
        dialing=0,
        ringing=in_flight,
        waiting=0,
        max_in_flight=4 * collectors,
    )
    in_wrap = np.zeros(busy, dtype=bool)
    in_wrap[:wrapping] = True
    view = StubView(rng.uniform(0, 300, busy), in_wrap, rng.uniform(0, 25, in_flight))
    return inputs, view


def timed(pacer: Pacer, inputs: PacingInputs, view: StubView, n: int) -> list[float]:
    """CPU seconds per decision (thread time: a busy machine's preemptions do not count)."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        pacer.decide(inputs, view, rng)  # warm caches (tables, fits)
    out = []
    for _ in range(n):
        start = time.thread_time()
        pacer.decide(inputs, view, rng)
        out.append(time.thread_time() - start)
    return out


def main() -> None:
    rng = np.random.default_rng(1)
    print("one pacing decision: median (p90) CPU time over repeated decisions")
    for collectors, in_flight, target_ms in ((1000, 3000, 2.0), (20, 60, 0.2), (10, 12, 0.2)):
        inputs, view = case(collectors, in_flight, rng)
        predictive = PredictivePacer(recompute_after=0.0, max_lines_per_collector=4.0)
        warm(predictive, rng)
        n = 300 if collectors > 100 else 2000
        pred = timed(predictive, inputs, view, n)
        base = timed(ProgressivePacer(), inputs, view, n)
        mode = "exact" if predictive.last_record.get("exact") else "refined normal"
        print(
            f"  {collectors:5d} collectors, {in_flight:5d} in flight: predictive "
            f"{statistics.median(pred) * 1e3:7.3f} ms (p90 {np.quantile(pred, 0.9) * 1e3:.3f}, "
            f"{mode}; target <= {target_ms:g} ms)   baseline progressive "
            f"{statistics.median(base) * 1e3:7.4f} ms"
        )


if __name__ == "__main__":
    main()
