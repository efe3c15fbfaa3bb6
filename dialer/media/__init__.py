"""Audio on the RTP relay: call recording (recording*.py, retention.py) and answering-machine
detection (the classifier, its VAD and beep detector, and the worker pool that keeps them
off the event loop).

Frames in are 8 kHz G.711 μ-law as RTP carries them; everything CPU-heavy or blocking runs
in worker threads, never on the event loop (DESIGN §6).
"""
