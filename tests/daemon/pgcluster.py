"""A private PostgreSQL cluster for fault tests: started, stopped (as a crash would) and
started again by the test itself, on a free port of 127.0.0.1, in a temporary folder."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_ALL = os.environ.get("DIALER_REQUIRE_ALL") == "1"


def _bin_dir() -> Path | None:
    for found in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (found / "initdb").exists() and (found / "pg_ctl").exists():
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path, base: Path, user: str | None) -> None:
        self.bin, self.base, self.user = bin_dir, base, user
        self.data = base / "data"
        self.port = _free_port()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [*(["runuser", "-u", self.user, "--"] if self.user else []), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
            str(self.base / "log"), "-w", "start",
        )  # fmt: skip

    def crash(self) -> None:
        """Stop at once, as a dead server: no checkpoint, connections cut."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        if REQUIRE_ALL:
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are missing")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
    base = Path(tempfile.mkdtemp(prefix="dialer-pg-", dir="/tmp"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bin_dir, base, user)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.crash()
        shutil.rmtree(base, ignore_errors=True)
