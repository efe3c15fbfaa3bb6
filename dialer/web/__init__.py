"""The web side: JSON API, collector console, manager page, /metrics and /healthz."""
