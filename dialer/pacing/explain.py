"""The explanation of one predictive decision: what it saw, what it computed, what it did.

The record is a plain JSON-ready dict (it goes into ``PacingDecision.detail``, the engine's
decision log, the daemon's debug log and the API): inputs (ready, busy with elapsed times,
ringing with elapsed ring times, the estimates), the risk of each candidate call, lambda,
the budget and the number launched with the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dialer.pacing.base import PacingInputs
from dialer.pacing.blending import Reservation
from dialer.pacing.budget import BudgetState
from dialer.pacing.distributions import FloatArray

__all__ = ["decision_record"]

MAX_LISTED = 50  # elapsed times listed per kind; larger teams are summarised


def _listed(values: FloatArray) -> list[float]:
    out: list[float] = np.round(values[:MAX_LISTED], 1).tolist()
    return out


def decision_record(
    inputs: PacingInputs,
    busy_elapsed: FloatArray,
    in_wrap: npt.NDArray[np.bool_],
    ring_elapsed: FloatArray,
    risk: FloatArray,
    launched: int,
    fraction: float,
    threshold: float,
    budget: BudgetState,
    estimates: dict[str, float],
    predicted_free: float,
    exact: bool,
    learning: str = "",
    inbound: Reservation | None = None,
) -> dict[str, Any]:
    """One decision's record; ``risk[m]`` is the drop risk of the (m + 1)-th new call;
    ``learning``: the bounds the warm-up used instead of the model (empty once it is ready);
    ``inbound``: the collectors held for inbound (blended campaigns only)."""
    shown = min(risk.size, launched + 2)
    if launched == 0:
        why = (
            f"first new call's drop risk {risk[0]:.4f} >= lambda {threshold:.4f}"
            if risk.size and risk[0] >= threshold
            else "no line free under the line limit"
        )
    else:
        why = f"{launched} call(s): each drop risk under lambda {threshold:.4f}"
        if fraction > 0 and launched <= risk.size and risk[launched - 1] >= threshold:
            why += f" (the last one fractionally, p={fraction:.2f})"
    if learning:
        why += f" (learning: {learning})"
    if inbound is not None and (inbound.held or inbound.arrivals_per_second > 0):
        why += f" (inbound: {inbound.words()})"
    record: dict[str, Any] = {
        "mode": "predictive",
        "why": why,
        "launched": launched,
        "threshold": threshold,
        "risks": np.round(risk[:shown], 5).tolist(),
        "fraction": round(fraction, 4),
        "exact": exact,
        "predicted_free": round(predicted_free, 3),
        "budget": {
            "live_answers": budget.live,
            "abandoned": budget.drops,
            "cap": budget.cap,
            "aim": round(budget.target, 5),
            "margin": round(budget.margin, 5),
            "surplus_drops": round(budget.surplus, 2),
            "remaining_ratio": round(budget.remaining_ratio, 4),
        },
        "inputs": {
            "ready": inputs.ready,
            "on_call": inputs.on_call,
            "wrap_up": inputs.wrap_up,
            "paused": inputs.paused,
            "ringing": inputs.dialing + inputs.ringing,
            "waiting": inputs.waiting,
            "max_in_flight": inputs.max_in_flight,
            "busy_elapsed": _listed(busy_elapsed),
            "busy_in_wrap": np.asarray(in_wrap[:MAX_LISTED], dtype=bool).tolist(),
            "ring_elapsed": _listed(ring_elapsed),
        },
        "estimates": {k: round(v, 4) for k, v in estimates.items()},
    }
    if learning:
        record["learning"] = learning
    if inbound is not None:
        record["inbound"] = inbound_record(inbound)
    return record


def inbound_record(inbound: Reservation) -> dict[str, Any]:
    """A blended decision's hold for inbound, as its record and the manager's page have it."""
    return {
        **inbound.detail,
        "reserved": inbound.reserved,
        "queued": inbound.queued,
        "held": inbound.held,
        "callers_planned_per_hour": round(inbound.arrivals_per_second * 3600, 3),
    }
