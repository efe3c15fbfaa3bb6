"""Against Kamailio 5.6 (Debian), an independent registrar and authenticating proxy.

Its configuration (kamailio/kamailio.cfg) does what identity-checking carriers do: a
REGISTER must be addressed to it, port included; digest with qop=auth and checked nonce
counts; the auth user must be the From user of an INVITE (the To user of a REGISTER).
sipp (scenarios/uas.xml) answers the calls Kamailio relays.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sipkit import (
    RtpPeerFactory,
    SippFactory,
    TrunkFactory,
    free_udp_port,
    next_event,
    trunk_settings,
    udp_port_bound,
)

from dialer.domain.calls import CallOutcome
from dialer.domain.events import CallAnswered, CallFailed, CallHungUp

pytestmark = pytest.mark.sip
CONFIG = Path(__file__).parent / "kamailio" / "kamailio.cfg"
SUBSCRIBERS = "1:alice:127.0.0.1:s3cret:-:-\n"  # calculate_ha1: the ha1 columns are unused


@dataclass
class Kamailio:
    port: int
    log_path: Path
    proc: asyncio.subprocess.Process

    def auth_failures(self, method: str) -> list[int]:
        """The auth_check codes Kamailio logged for `method` (-5: no credentials yet)."""
        text = self.log_path.read_text(errors="replace")
        found = re.findall(rf"dialer-test: auth_check {method} (-?\d+)", text)
        return [int(code) for code in found]


@pytest.fixture
def kamailio_binary() -> str:
    path = shutil.which("kamailio") or (
        "/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None
    )
    if path is None:
        message = "kamailio is not installed (Debian package kamailio)"
        if os.environ.get("DIALER_REQUIRE_ALL") == "1":
            pytest.fail(f"{message}, and DIALER_REQUIRE_ALL=1 forbids skipping")
        pytest.skip(message)
    return path


@pytest.fixture
async def kamailio(
    kamailio_binary: str, tmp_path: Path
) -> AsyncIterator[Callable[[int], Awaitable[Kamailio]]]:
    started: list[Kamailio] = []

    async def launch(uas_port: int) -> Kamailio:
        work = tmp_path / f"kamailio{len(started)}"
        db = work / "db"
        db.mkdir(parents=True)
        (db / "version").write_text(
            "id(int,auto) table_name(string) table_version(int) \n1:subscriber:7\n2:location:9\n"
        )
        (db / "subscriber").write_text(
            "id(int,auto) username(string) domain(string) password(string) ha1(string) "
            "ha1b(string) \n" + SUBSCRIBERS
        )
        port = free_udp_port()
        log_path = work / "kamailio.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                kamailio_binary,
                "-f", str(CONFIG), "-DD", "-E", "-n", "1", "-m", "16", "-M", "4",
                "-l", f"udp:127.0.0.1:{port}", "-Y", str(work), "-w", str(work),
                "-A", f'DBURL="text://{db}"', "-A", f'UAS="sip:127.0.0.1:{uas_port}"',
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its workers are a process group of their own
            )  # fmt: skip
        server = Kamailio(port, log_path, proc)
        started.append(server)

        async def ready() -> None:
            while not udp_port_bound(port):
                if proc.returncode is not None:
                    raise RuntimeError(f"kamailio exited:\n{log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.01)

        await asyncio.wait_for(ready(), 10)
        return server

    yield launch
    for server in started:
        if server.proc.returncode is None:
            server.proc.send_signal(signal.SIGTERM)  # the main process stops its workers
            try:
                await asyncio.wait_for(server.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.proc.pid, signal.SIGKILL)
                await server.proc.wait()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_registers_and_calls_through_kamailio_with_one_challenge_each(
    sipp: SippFactory,
    trunks: TrunkFactory,
    rtp_peers: RtpPeerFactory,
    kamailio: Callable[[int], Awaitable[Kamailio]],
) -> None:
    """REGISTER to sip:127.0.0.1:<port> is accepted; the From user is the auth user, the
    caller ID rides in P-Asserted-Identity; the second call's INVITE carries credentials
    for the first call's nonce (nc=2) and Kamailio takes them: 3 INVITEs for 2 calls."""
    media = await rtp_peers()
    uas = await sipp(2, rtpport=media.port)
    proxy = await kamailio(uas.port)
    settings = trunk_settings(
        proxy.port,
        register=True,
        username="alice",
        password="s3cret",
        caller_id="+12125550100",
        caller_name="Acme Servicing",
    )
    trunk, events = await trunks(settings)
    await wait_until(lambda: trunk.registered)
    for call in ("c1", "c2"):
        await trunk.originate(call, "20000100", 25)
        while (got := await next_event(events)) != CallAnswered(call):
            assert not isinstance(got, CallFailed), (got, proxy.auth_failures("INVITE"))
        await trunk.hangup(call)
        assert await next_event(events) == CallHungUp(call)
    await uas.assert_all_calls_passed()
    assert trunk.stats.invites_sent == 3
    await asyncio.wait_for(trunk.stop(), 5)  # un-REGISTER on the cached nonce
    assert trunk.registered is False
    assert proxy.auth_failures("INVITE") == [-5]  # one 407, for the very first INVITE
    assert proxy.auth_failures("REGISTER") == [-5]  # one 401: the refresh needed none


async def test_kamailio_refuses_a_from_user_that_is_not_the_auth_user(
    sipp: SippFactory,
    trunks: TrunkFactory,
    rtp_peers: RtpPeerFactory,
    kamailio: Callable[[int], Awaitable[Kamailio]],
) -> None:
    """`from_user: caller_id` (the old behaviour): an identity-checking proxy refuses the
    call however right the password is, which is why `auth` is the default. The refusal
    is the carrier's, not the debtor's: a trunk failure, counted toward no cap."""
    media = await rtp_peers()
    uas = await sipp(1, rtpport=media.port)
    proxy = await kamailio(uas.port)
    settings = trunk_settings(
        proxy.port,
        username="alice",
        password="s3cret",
        caller_id="+12125550100",
        from_user="caller_id",
    )
    trunk, events = await trunks(settings)
    await trunk.originate("c1", "20000100", 25)
    assert await next_event(events) == CallFailed("c1", CallOutcome.TRUNK_FAILED, 407)
    assert proxy.auth_failures("INVITE")[-1] == -8  # auth user != From user
    await uas.kill()
