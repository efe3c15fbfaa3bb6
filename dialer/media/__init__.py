"""Audio on the RTP relay: call recording (recording*.py, retention.py), AMD, speech QA."""
