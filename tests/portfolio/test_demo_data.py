"""The demo portfolio is realistic in shape and fictional in every number."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import phonenumbers
from phonenumbers import timezone as phone_timezones

from dialer.domain.model import Bucket
from dialer.portfolio.demo import COLUMNS, generate_portfolio, write_csv

# US: NXX-555-0100..0199; UK: Ofcom drama ranges (20 7946 0xxx; 113, 121, 131, 161 496 0xxx).
_FICTION = re.compile(r"^\+1\d{3}55501\d{2}$|^\+44(2079460|1(13|21|31|61)4960)\d{3}$")


def test_numbers_are_fictional_valid_and_spread_over_zones() -> None:
    rows = generate_portfolio(3000, np.random.default_rng(3))
    zones: Counter[str] = Counter()
    for row in rows:
        for column in ("phone", "phone2"):
            if not row[column]:
                continue
            number = phonenumbers.parse(row[column], "US")
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            assert _FICTION.match(e164), e164
            assert phonenumbers.is_valid_number(number)
            zones.update(phone_timezones.time_zones_for_number(number)[:1])
        assert row["phone"] != row["phone2"]
    assert len(zones) >= 7 and zones["Europe/London"] > 0  # several US zones and the UK


def test_shape_of_the_portfolio() -> None:
    rows = generate_portfolio(5000, np.random.default_rng(4), owners=["ann", "bo"], teams=["x"])
    balances = np.array([float(row["balance"]) for row in rows])
    buckets = Counter(Bucket.for_days_past_due(int(row["days_past_due"])) for row in rows)
    assert len({row["debtor_ref"] for row in rows}) == 5000
    assert 400 < np.median(balances) < 2000 and balances.max() > 10 * np.median(balances)
    assert set(buckets) == set(Bucket) - {Bucket.CURRENT} and min(buckets.values()) > 100
    assert 0.25 < sum(bool(row["phone2"]) for row in rows) / 5000 < 0.45
    assert 0 < sum(row["do_not_call"] == "true" for row in rows) < 150
    assert {row["owner"] for row in rows} == {"", "ann", "bo"} and "x" in {r["team"] for r in rows}


def test_same_seed_same_rows_and_csv_round_trip(tmp_path: Path) -> None:
    rows = generate_portfolio(50, np.random.default_rng(5))
    assert rows == generate_portfolio(50, np.random.default_rng(5))
    path = tmp_path / "sub" / "demo.csv"
    write_csv(rows, path)
    with path.open(newline="", encoding="utf-8") as file:
        assert tuple(next(csv.reader(file))) == COLUMNS
        file.seek(0)
        assert list(csv.DictReader(file)) == rows
