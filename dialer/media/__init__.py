"""Audio on the relay: answering-machine detection (this package's classifier, its VAD and
beep detector, and the worker pool that keeps them off the event loop).

Frames in are 8 kHz G.711 μ-law as RTP carries them; everything CPU-heavy runs in
`amd_pool`'s workers, never on the event loop (DESIGN §6).
"""
