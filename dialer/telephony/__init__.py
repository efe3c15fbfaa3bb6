"""Trunk port and its adapters (simulated carrier, SIP via pyVoIP)."""
