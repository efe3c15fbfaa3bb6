"""Real phones and a real registrar for the interop tests: baresip 1.0 and Kamailio 5.6.

`Baresip` runs one headless baresip (Debian package `baresip-core`) in a config directory
of its own: SIP on 127.0.0.1:<free port>, PCMU only, a WAV file as its microphone (module
`aufile`), and every call's audio dumped to WAV files by the `sndfile` filter: what it
received, decoded (`dump-<time>-dec.wav`), and what it sent (`-enc.wav`). baresip 1.0 has
no file *player* (its `aufile` is a source only), so the player is an `aubridge` device
that no source shares: it opens, and the decoded audio is written by `sndfile` on the
receive path whatever the player does with it. It is controlled, and watched, over the
`ctrl_tcp` module (netstring-framed JSON on 127.0.0.1:<free port>): commands such as
`dial`, `hangup`, `reginfo`, `quit`, and events (CALL_INCOMING, CALL_ESTABLISHED,
CALL_CLOSED, ...) time-stamped on the test's loop as they arrive.

baresip 1.0 behaviours the tests rely on (seen on this machine):
- it sends 180 Ringing for every incoming call, then 200 at once with `answermode=auto`;
- `hangup` of a call still ringing rejects it with `486 Rejected`;
- when the `aufile` source reaches the end of its WAV, the `menu` module hangs the call
  up (BYE): make the microphone file longer than the call should last;
- it binds UDP *and* TCP on its SIP port, so the port must be free for both;
- its jitter buffer is driven by arriving packets, not by a clock: when a stream stops,
  the last `jitter_buffer[0]` frames stay in the buffer and are never decoded (measured:
  a 3.00 s message recorded as 2.90 s with the default 5-10, 2.98 s with 1-10, whole
  with 0-10, the BYE coming 200 ms after the last packet in every case). A test that must
  hear the end of a stream gives the phone `jitter_buffer=(0, 10)`.

`Registrar` runs Kamailio with kamailio/registrar.cfg: a registrar with digest auth
against a db_text subscriber table, relaying INVITEs to registered contacts.

Audio helpers (numpy/scipy only): band-limited noise from a seed (each side's signal is
its own seed, so signals do not correlate with each other), WAV writing and a reader that
does not trust the header (sndfile fills it in only when a call ends), G.711 mu-law, and
`locate`, which finds where windows of a recording sit in a known signal by normalised
cross-correlation (insensitive to level changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.signal import fftconvolve
from sipkit import free_udp_port, udp_port_bound

RATE = 8000  # Hz: PCMU
FRAME = RATE // 50  # 20 ms
KAMAILIO_DIR = Path(__file__).parent / "kamailio"
REGISTRAR_CONFIG = KAMAILIO_DIR / "registrar.cfg"
Answer = Literal["auto", "manual", "reject"]
Signal = NDArray[np.float64]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # reginfo colours its OK / ERR


# -- audio ------------------------------------------------------------------------------
def band_noise(seconds: float, seed: int, rms: float = 0.2) -> Signal:
    """Gaussian noise limited to the telephone band (300-3400 Hz), `rms` of full scale."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    samples = np.fft.irfft(spectrum, n)
    return np.clip(samples * (rms / samples.std()), -0.95, 0.95)


def to_pcm16(samples: Signal) -> NDArray[np.int16]:
    return np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")


def write_wav(path: Path, samples: Signal) -> Path:
    """8 kHz mono 16-bit PCM WAV (what baresip's `aufile` takes for PCMU)."""
    data = to_pcm16(samples).tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    path.write_bytes(header + b"data" + struct.pack("<I", len(data)) + data)
    return path


def read_wav(path: Path) -> Signal:
    """The samples of a 16-bit mono WAV, up to the end of the file whatever the header says
    (libsndfile writes the sizes when the file is closed: a file still being written, or
    left by a killed process, says 0)."""
    raw = path.read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAV file")
    pos = 12
    while pos + 8 <= len(raw):
        chunk, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", raw[pos + 8 : pos + 24])
            if (channels, rate, bits) != (1, RATE, 16):
                raise ValueError(f"{path}: {channels} ch, {rate} Hz, {bits} bit")
        if chunk == b"data":
            body = raw[pos + 8 :]
            body = body[: len(body) // 2 * 2]
            return np.frombuffer(body, dtype="<i2").astype(np.float64) / 32768
        pos += 8 + size + (size & 1)
    return np.zeros(0)


def mulaw_encode(samples: Signal) -> bytes:
    """G.711 mu-law (the classic Sun g711.c algorithm), 8-bit codes."""
    pcm = to_pcm16(samples).astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude >> 7)).astype(np.int32)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def mulaw_decode(codes: bytes) -> Signal:
    u = ~np.frombuffer(codes, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.float64) / 32768


def frame_levels(samples: Signal) -> Signal:
    """RMS of each whole 20 ms frame."""
    frames = samples[: len(samples) // FRAME * FRAME].reshape(-1, FRAME)
    return np.sqrt((frames**2).mean(axis=1)) if len(frames) else np.zeros(0)


def audible_seconds(samples: Signal, floor: float = 0.01) -> float:
    return float((frame_levels(samples) > floor).sum()) * FRAME / RATE


@dataclass(frozen=True)
class Match:
    at: float  # where the window starts in the recording (s)
    offset: float  # where it matched best in the reference (s)
    score: float  # normalised cross-correlation: 1.0 = the same waveform at any level


def locate(reference: Signal, recording: Signal, window: float = 0.25) -> list[Match]:
    """Where each audible window of `recording` sits in `reference`, and how well it fits."""
    step = int(window * RATE)
    energy = np.concatenate(([0.0], np.cumsum(reference**2)))
    sliding = np.sqrt(np.maximum(energy[step:] - energy[:-step], 1e-12))
    matches: list[Match] = []
    for start in range(0, len(recording) - step + 1, step):
        segment = recording[start : start + step]
        norm = float(np.sqrt((segment**2).sum()))
        if norm / np.sqrt(step) < 0.01:  # silence (PCMU 0xFF decodes to 0)
            continue
        corr = fftconvolve(reference, segment[::-1], mode="valid") / (sliding * norm)
        best = int(np.argmax(corr))
        matches.append(Match(start / RATE, best / RATE, float(corr[best])))
    return matches


# -- ports ------------------------------------------------------------------------------
def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (baresip's SIP binds both)."""
    for _ in range(50):
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for UDP and TCP")


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def netstring(payload: Mapping[str, Any]) -> bytes:
    data = json.dumps(payload).encode()
    return str(len(data)).encode() + b":" + data + b","


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `predicate` every 10 ms; fail after `timeout` seconds saying what was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.01)


# -- baresip ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PhoneEvent:
    type: str  # CALL_INCOMING, CALL_RINGING, CALL_ESTABLISHED, CALL_CLOSED, ...
    at: float  # the test loop's time when it arrived
    param: str  # e.g. the reason of CALL_CLOSED ("486 Rejected", "Connection reset by peer")
    raw: dict[str, Any]


MODULES = ("g711.so", "aufile.so", "aubridge.so", "sndfile.so")  # codec, mic, player, dump
APP_MODULES = ("menu.so", "ctrl_tcp.so")  # call handling (auto-answer, hang-up), control


@dataclass
class Baresip:
    """One baresip phone. `registrar` set: it registers as `user` with `password` there;
    unset: a plain local account that takes direct calls at `uri`.

    `answer`: "auto" answers every call, "manual" lets it ring (until the caller gives up
    or `command("accept")`), "reject" rejects it the moment it arrives (baresip: 486)."""

    binary: str
    workdir: Path
    user: str
    microphone: Path  # 8 kHz mono 16-bit WAV, played from the answer on
    registrar: tuple[str, int] | None = None
    password: str | None = None
    answer: Answer = "auto"
    jitter_buffer: tuple[int, int] = (5, 10)  # baresip's default, in 20 ms frames
    sip_port: int = 0
    ctrl_port: int = 0
    proc: asyncio.subprocess.Process | None = None
    events: list[PhoneEvent] = field(default_factory=list)
    _writer: asyncio.StreamWriter | None = None
    _reader_task: asyncio.Task[None] | None = None
    _pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _token: int = 0

    @property
    def uri(self) -> str:
        """Where it takes direct calls (its contact)."""
        return f"sip:{self.user}@127.0.0.1:{self.sip_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "baresip.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- configuration ------------------------------------------------------------------
    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        name = self.workdir.name
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",  # SDP and Contact say 127.0.0.1, not eth0's address
            "call_local_timeout 120",
            "call_max_calls 4",
            f"audio_source aufile,{self.microphone}",
            f"audio_player aubridge,play-{name}",  # no source shares it: a sink
            f"audio_alert aubridge,alert-{name}",
            "audio_level no",
            "ausrc_format s16",
            "auplay_format s16",
            "auenc_format s16",
            "audec_format s16",
            "audio_buffer 20-160",
            "rtp_ports 31000-39999",  # off the trunk's default RTP range (20000-30000)
            "rtcp_mux no",
            f"jitter_buffer_delay {self.jitter_buffer[0]}-{self.jitter_buffer[1]}",  # frames
            "rtp_stats no",
            "module_path /usr/lib/baresip/modules",
            *(f"module {m}" for m in MODULES),
            "module_tmp account.so",
            *(f"module_app {m}" for m in APP_MODULES),
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {self.workdir}",
            "statmode_default off",  # no status line every 100 ms in the log
        ]
        (self.workdir / "config").write_text("\n".join(lines) + "\n")
        mode = "manual" if self.answer == "reject" else self.answer
        params = f";answermode={mode};audio_codecs=pcmu;ptime=20"
        if self.registrar is not None:
            host, port = self.registrar
            account = f"<sip:{self.user}@{host}:{port}>{params};regint=600"
            if self.password is not None:
                account += f";auth_user={self.user};auth_pass={self.password}"
        else:
            account = f"<sip:{self.user}@127.0.0.1:{self.sip_port}>{params};regint=0"
        (self.workdir / "accounts").write_text(account + "\n")
        (self.workdir / "contacts").write_text("")

    # -- life -----------------------------------------------------------------------------
    async def start(self, timeout: float = 15) -> Baresip:
        """Start it and wait (bounded) until its control port answers and, with a
        registrar, until it is registered. A port taken meanwhile: retried on new ports."""
        for attempt in range(3):
            self.sip_port, self.ctrl_port = free_udp_tcp_port(), free_tcp_port()
            self._write_config()
            with self.log_path.open("ab") as log:
                self.proc = await asyncio.create_subprocess_exec(
                    self.binary, "-f", str(self.workdir),
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                    cwd=self.workdir,
                )  # fmt: skip
            try:
                await self._connect(timeout)
                break
            except RuntimeError:
                if attempt == 2 or "Address already in use" not in self.log():
                    raise
                await self.kill()
        if self.registrar is not None:
            await wait_until_async(self.is_registered, timeout, f"{self.user} registered")
        return self

    async def _connect(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        assert self.proc is not None
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(f"baresip exited ({self.proc.returncode}):\n{self.log()}")
            if udp_port_bound(self.sip_port):
                try:
                    reader, self._writer = await asyncio.open_connection(
                        "127.0.0.1", self.ctrl_port
                    )
                    break
                except OSError:
                    pass
            if loop.time() > deadline:
                raise TimeoutError(f"baresip not ready in {timeout:g} s:\n{self.log()}")
            await asyncio.sleep(0.02)
        self._reader_task = loop.create_task(self._read(reader), name=f"baresip-{self.user}")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = int((await reader.readuntil(b":"))[:-1])
                message = json.loads((await reader.readexactly(length + 1))[:-1])
                if message.get("response"):
                    future = self._pending.pop(str(message.get("token")), None)
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                if not message.get("event"):
                    continue
                kind, param = str(message.get("type")), str(message.get("param", ""))
                got = PhoneEvent(kind, loop.time(), param, message)
                self.events.append(got)
                if got.type == "CALL_INCOMING" and self.answer == "reject":
                    # the user presses "reject" at once: baresip answers 486 Rejected
                    # (its response is read by this loop, so it is not awaited here)
                    self._send("hangup")

    def _send(self, name: str, params: str = "") -> asyncio.Future[dict[str, Any]]:
        if self._writer is None:
            raise RuntimeError("baresip is not connected")
        self._token += 1
        token = str(self._token)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        self._writer.write(netstring({"command": name, "params": params, "token": token}))
        return future

    async def command(self, name: str, params: str = "", timeout: float = 5) -> str:
        """Run a baresip command (`help` lists them); its text output."""
        response = await asyncio.wait_for(self._send(name, params), timeout)
        if not response.get("ok"):
            raise RuntimeError(f"baresip {name} {params}: {response.get('data')}")
        return str(response.get("data", ""))

    async def is_registered(self) -> bool:
        """`reginfo` lists the account with OK once the registrar accepted it."""
        info = _ANSI.sub("", await self.command("reginfo"))
        return any(self.user in line and " OK " in line for line in info.splitlines())

    async def wait_event(self, kind: str, timeout: float, since: int = 0) -> PhoneEvent:
        """The first event of `kind` at index `since` or later (bounded wait)."""
        found: list[PhoneEvent] = []

        def seen() -> bool:
            found[:] = [e for e in self.events[since:] if e.type == kind]
            return bool(found)

        await wait_until(seen, timeout, f"{self.user}: {kind}\n{self.log()[-2000:]}")
        return found[0]

    def event_types(self) -> list[str]:
        return [e.type for e in self.events]

    async def kill(self, hard: bool = True, timeout: float = 5) -> None:
        """hard: SIGKILL, a phone that dies (no BYE, no un-REGISTER). Otherwise `quit`
        (calls hung up), and SIGKILL if it has not exited within `timeout`."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            self._close()
            return
        if not hard and self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(netstring({"command": "quit", "token": "quit"}))
                await asyncio.wait_for(proc.wait(), timeout)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.wait_for(proc.wait(), timeout)
        self._close()

    def _close(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._writer is not None:
            self._writer.close()
        self._writer = None

    # -- audio ----------------------------------------------------------------------------
    def recordings(self, direction: Literal["dec", "enc"] = "dec") -> list[Path]:
        """sndfile's dumps, oldest first: `dec` what it received, `enc` what it sent."""
        return sorted(self.workdir.glob(f"dump-*-{direction}.wav"), key=lambda p: p.stat().st_mtime)

    def heard(self) -> Signal:
        """What it received in its latest call (decoded), as far as written yet."""
        files = self.recordings("dec")
        return read_wav(files[-1]) if files else np.zeros(0)

    async def wait_heard(self, seconds: float, timeout: float) -> float:
        """Wait until the current call's recording holds `seconds` of audible audio; the
        loop time when it did (poll every 10 ms, bounded)."""
        await wait_until(
            lambda: audible_seconds(self.heard()) >= seconds,
            timeout,
            f"{self.user} heard {seconds:g} s of audio (has {audible_seconds(self.heard()):.2f})",
        )
        return asyncio.get_running_loop().time()


async def wait_until_async(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> None:
    """`wait_until` for a coroutine predicate (e.g. a command round trip)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(interval)


# -- Kamailio ---------------------------------------------------------------------------
@dataclass
class Registrar:
    """Kamailio with kamailio/registrar.cfg; `users` maps username -> password."""

    binary: str
    workdir: Path
    users: Mapping[str, str]
    port: int = 0
    proc: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "kamailio.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, timeout: float = 10, port: int | None = None) -> Registrar:
        """Start Kamailio on a free port, or on `port` (a registrar coming back)."""
        db = self.workdir / "db"
        db.mkdir(parents=True, exist_ok=True)
        (db / "version").write_text(
            "id(int,auto) table_name(string) table_version(int) \n1:subscriber:7\n2:location:9\n"
        )
        rows = "".join(
            f"{i}:{user}:127.0.0.1:{password}:-:-\n"
            for i, (user, password) in enumerate(self.users.items(), 1)
        )
        (db / "subscriber").write_text(
            "id(int,auto) username(string) domain(string) password(string) ha1(string) "
            "ha1b(string) \n" + rows
        )
        self.port = port or free_udp_port()
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                self.binary,
                "-f", str(REGISTRAR_CONFIG), "-DD", "-E", "-n", "1", "-m", "16", "-M", "4",
                "-l", f"udp:127.0.0.1:{self.port}", "-Y", str(self.workdir),
                "-w", str(self.workdir), "-A", f'DBURL="text://{db}"',
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,  # its workers are a process group of their own
            )  # fmt: skip
        proc = self.proc

        def ready() -> bool:
            if proc.returncode is not None:
                raise RuntimeError(f"kamailio exited:\n{self.log()[-3000:]}")
            return udp_port_bound(self.port)

        await wait_until(ready, timeout, "kamailio listening")
        return self

    async def stop(self, timeout: float = 5) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the main process stops its workers
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
