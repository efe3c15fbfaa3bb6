from __future__ import annotations

import pytest
from enginekit import Driver, make_engine


@pytest.fixture
def driver() -> Driver:
    return Driver(make_engine())
