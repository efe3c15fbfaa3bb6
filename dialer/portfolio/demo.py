"""Synthetic demo portfolios: realistic in shape, fictional in every value.

Phone numbers come only from ranges reserved for fiction: US +1 NXX-555-0100..0199 and the
UK Ofcom drama ranges (020 7946 0000-0999, and 0113/0121/0131/0161 496 0000-0999; the
07700 900xxx mobile drama range is left out because phonenumbers rightly marks it
invalid, so the importer would reject it). Names are drawn from short generic lists.
The rows are in the importer's CSV format.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

COLUMNS = (
    "debtor_ref",
    "name",
    "phone",
    "phone_type",
    "phone2",
    "phone2_type",
    "consent",
    "timezone",
    "balance",
    "currency",
    "days_past_due",
    "bucket",
    "skills",
    "owner",
    "team",
    "do_not_call",
    "cease_communication",
    "disputed",
    "account_ref",
    "date_of_birth",
    "postcode",
)

# (area code, share of US cases): the zones the numbers map to are spread over the country,
# including Alaska (907: two zones, so the importer leaves the zone to compliance).
_US_AREAS = (
    ("212", 0.12),  # New York, Eastern
    ("617", 0.05),  # Boston, Eastern
    ("404", 0.07),  # Atlanta, Eastern
    ("305", 0.07),  # Miami, Eastern
    ("215", 0.05),  # Philadelphia, Eastern
    ("312", 0.09),  # Chicago, Central
    ("214", 0.07),  # Dallas, Central
    ("713", 0.07),  # Houston, Central
    ("612", 0.04),  # Minneapolis, Central
    ("303", 0.05),  # Denver, Mountain
    ("801", 0.03),  # Salt Lake City, Mountain
    ("602", 0.05),  # Phoenix, Arizona (no daylight saving)
    ("213", 0.10),  # Los Angeles, Pacific
    ("415", 0.05),  # San Francisco, Pacific
    ("206", 0.05),  # Seattle, Pacific
    ("907", 0.02),  # Alaska: ambiguous zone
    ("808", 0.02),  # Hawaii
)
_UK_PREFIXES = ("+44 20 7946 0", "+44 113 496 0", "+44 121 496 0", "+44 131 496 0", "+44 161 496 0")
_UK_SHARE = 0.05
_FIRST = (
    "Alex", "Blair", "Casey", "Dana", "Eli", "Frankie", "Gale", "Harper", "Indy", "Jordan",
    "Kai", "Lee", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Riley", "Sam", "Taylor",
)  # fmt: skip
_LAST = (
    "Archer", "Brook", "Carver", "Dale", "Ellis", "Fairfax", "Grove", "Hollis", "Irving",
    "Jensen", "Kendall", "Lowell", "Marsh", "Norwood", "Oakes", "Prescott", "Rowe", "Sterling",
    "Thorne", "Vance", "Whitlock", "Yardley",
)  # fmt: skip
# Share of cases per bucket and the days-past-due range of each.
_BUCKETS = (
    ((1, 30), 0.30),
    ((31, 60), 0.20),
    ((61, 90), 0.15),
    ((91, 120), 0.10),
    ((121, 150), 0.08),
    ((151, 180), 0.07),
    ((181, 720), 0.10),  # written off
)


def generate_portfolio(
    n: int,
    rng: np.random.Generator,
    *,
    owners: Sequence[str] = (),
    teams: Sequence[str] = (),
) -> list[dict[str, str]]:
    """`n` synthetic cases as CSV rows. `owners` (collector usernames) and `teams` (team
    names), when given, must exist in the store before import; most cases get an owner,
    some unowned ones a team."""
    uk = rng.random(n) < _UK_SHARE
    area_shares = np.array([share for _, share in _US_AREAS])
    areas = rng.choice(len(_US_AREAS), size=n, p=area_shares / area_shares.sum())
    bucket_shares = np.array([share for _, share in _BUCKETS])
    buckets = rng.choice(len(_BUCKETS), size=n, p=bucket_shares / bucket_shares.sum())
    # Collections balances are right-skewed: median about $900, a long tail to six figures.
    balances = np.clip(rng.lognormal(mean=6.8, sigma=1.1, size=n), 25.0, 250_000.0)
    rows = []
    for i in range(n):
        low, high = _BUCKETS[buckets[i]][0]
        dpd = int(rng.integers(low, high + 1))
        area = _US_AREAS[areas[i]][0]
        numbers = _numbers(rng, bool(uk[i]), area)
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            debtor_ref=f"DEMO-{i + 1:07d}",
            name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            phone=numbers[0],
            consent="false" if rng.random() < 0.05 else "true",
            balance=f"{balances[i]:.2f}",
            currency="GBP" if uk[i] else "USD",
            days_past_due=str(dpd),
            do_not_call=_yes(rng, 0.01),
            cease_communication=_yes(rng, 0.005),
            disputed=_yes(rng, 0.02),
        )
        if len(numbers) > 1:
            row["phone2"] = numbers[1]
            row["phone2_type"] = "work" if rng.random() < 0.4 else "debtor"
        if not uk[i] and area == "907" and rng.random() < 0.5:
            row["timezone"] = "America/Anchorage"  # the file knows better than the number
        skills = ["es"] if not uk[i] and rng.random() < 0.12 else []
        if dpd > 180:
            skills.append("late_stage")
        row["skills"] = ";".join(skills)
        if owners and rng.random() < 0.7:
            row["owner"] = str(rng.choice(list(owners)))
        elif teams and rng.random() < 0.5:
            row["team"] = str(rng.choice(list(teams)))
        row.update(_identity(i, bool(uk[i])))
        rows.append(row)
    return rows


def _identity(i: int, uk: bool) -> dict[str, str]:
    """What a collector verifies, made from the row number alone (no random draws: the
    rest of the portfolio stays what it was for a seed)."""
    born = date(1950, 1, 1) + timedelta(days=(i * 7919) % 18000)
    postcode = f"E{1 + i % 20} {i % 10}AB" if uk else f"{10001 + (i * 37) % 89998:05d}"
    return {
        "account_ref": f"ACC{i + 1:08d}",
        "date_of_birth": born.isoformat(),
        "postcode": postcode,
    }


def _numbers(rng: np.random.Generator, uk: bool, area: str) -> list[str]:
    """One or two distinct fictional numbers, in the mixed formats real files have."""
    count = 2 if rng.random() < 0.35 else 1
    lines = rng.choice(100 if not uk else 1000, size=count, replace=False)
    if uk:
        prefix = _UK_PREFIXES[int(rng.integers(len(_UK_PREFIXES)))]
        return [f"{prefix}{line:03d}" for line in lines]
    if rng.random() < 0.5:
        return [f"({area}) 555-01{line:02d}" for line in lines]
    return [f"+1{area}55501{line:02d}" for line in lines]


def _yes(rng: np.random.Generator, probability: float) -> str:
    return "true" if rng.random() < probability else "false"


def write_csv(rows: Sequence[dict[str, str]], path: Path) -> None:
    """Write rows (as from `generate_portfolio`) with the importer's header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)
