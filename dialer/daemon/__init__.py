"""The composition root: the daemon that builds every part from the settings and runs them
in one event loop (dialer.daemon.core), with its start-up checks (startup), the builders of
its parts (build), one runner per campaign (runner), the store writer (store_writer), the
collectors' legs (collector_legs), the simulated collectors (simulated_agents), the gauges
(gauges) and the embedded web server (web_server)."""

from dialer.daemon.core import Daemon
from dialer.daemon.startup import StartupError, StartupReport

__all__ = ["Daemon", "StartupError", "StartupReport"]
