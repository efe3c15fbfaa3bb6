"""The media families: call recording (dialer.media.recording*) and answering-machine
detection (dialer.daemon.call_screening)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dialer.metrics.declared import Counter, Histogram

# AMD decides a person within about 2.5 s, a machine within the 5 s analysis time.
AMD_DECISION_BUCKETS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5)
AMD_VERDICTS: tuple[str, ...] = ("human", "machine", "notsure")
# dialer_recording_failures_total{reason}: why a call's recording was lost (dialer.media).
RECORDING_FAILURE_REASONS: tuple[str, ...] = ("disk_full", "permission", "io_error", "catalog")
# dialer_recording_frames_dropped_total{reason}: the writer fell behind, or a packet came
# after its place was written.
RECORDING_DROP_REASONS: tuple[str, ...] = ("queue_full", "late")


class MediaMetrics:
    recordings_written: Counter
    recording_bytes: Counter
    recording_failures: Counter
    recording_frames_dropped: Counter
    amd_verdicts: Counter
    amd_decision_seconds: Histogram
    amd_dropped: Counter

    def _register_media(self, r: CollectorRegistry) -> None:
        self.recordings_written = Counter(
            "dialer_recordings_written_total",
            "Call recordings finished and catalogued.",
            ["campaign"],
            registry=r,
        )
        self.recording_bytes = Counter(
            "dialer_recording_bytes_total",
            "Bytes of call recordings written to disk.",
            ["campaign"],
            registry=r,
        )
        self.recording_failures = Counter(
            "dialer_recording_failures_total",
            "Call recordings lost (the call itself went on): disk full, no permission, "
            "another I/O error, or the store refused its record.",
            ["reason"],
            registry=r,
        )
        self.recording_frames_dropped = Counter(
            "dialer_recording_frames_dropped_total",
            "Audio packets left out of recordings: the writer fell behind (queue_full), or "
            "a packet came after its place was written (late).",
            ["reason"],
            registry=r,
        )
        self.amd_verdicts = Counter(
            "dialer_amd_verdicts_total",
            "Answering-machine detection's verdicts on answered calls (human, machine, "
            "notsure: notsure goes to a collector).",
            ["campaign", "outcome"],
            registry=r,
        )
        self.amd_decision_seconds = Histogram(
            "dialer_amd_decision_seconds",
            "Audio seconds from the answer to AMD's verdict (the debtor waits this long).",
            ["campaign"],
            buckets=AMD_DECISION_BUCKETS,
            registry=r,
        )
        self.amd_dropped = Counter(
            "dialer_amd_dropped_total",
            "AMD analyses given up because the workers were behind (the call went to a "
            "collector as notsure).",
            registry=r,
        )
        for reason in RECORDING_FAILURE_REASONS:
            self.recording_failures.labels(reason)
        for reason in RECORDING_DROP_REASONS:
            self.recording_frames_dropped.labels(reason)
