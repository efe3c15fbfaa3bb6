"""dialer: a predictive dialer and collections orchestration daemon."""

__version__ = "0.1.0"
