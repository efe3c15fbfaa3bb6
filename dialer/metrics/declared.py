"""The metric kinds the daemon declares, each saying its label names (and a histogram its
bucket bounds): prometheus_client keeps both private, and the catalogue (docs, the
alert-rule checks) reads them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import prometheus_client

__all__ = ["Counter", "Gauge", "Histogram", "Info"]


class Counter(prometheus_client.Counter):
    def __init__(
        self, name: str, documentation: str, labelnames: Iterable[str] = (), **kwargs: Any
    ) -> None:
        self.label_names = tuple(labelnames)
        super().__init__(name, documentation, self.label_names, **kwargs)


class Gauge(prometheus_client.Gauge):
    def __init__(
        self, name: str, documentation: str, labelnames: Iterable[str] = (), **kwargs: Any
    ) -> None:
        self.label_names = tuple(labelnames)
        super().__init__(name, documentation, self.label_names, **kwargs)


class Histogram(prometheus_client.Histogram):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        buckets: Sequence[float] = prometheus_client.Histogram.DEFAULT_BUCKETS,
        **kwargs: Any,
    ) -> None:
        self.label_names = tuple(labelnames)
        self.bucket_bounds = tuple(float(b) for b in buckets)
        super().__init__(name, documentation, self.label_names, buckets=buckets, **kwargs)


class Info(prometheus_client.Info):
    def __init__(
        self, name: str, documentation: str, labelnames: Iterable[str] = (), **kwargs: Any
    ) -> None:
        self.label_names = tuple(labelnames)
        super().__init__(name, documentation, self.label_names, **kwargs)
