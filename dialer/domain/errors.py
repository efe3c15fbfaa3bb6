"""Errors raised by the domain state machines."""

from __future__ import annotations


class IllegalTransition(Exception):
    """A state machine was asked to move along an edge it does not have."""

    def __init__(self, machine: str, ident: str, state: str, action: str) -> None:
        super().__init__(f"{machine} {ident}: cannot {action} from state {state}")
        self.machine = machine
        self.ident = ident
        self.state = state
        self.action = action


class IllegalCallTransition(IllegalTransition):
    def __init__(self, ident: str, state: str, action: str) -> None:
        super().__init__("call", ident, state, action)


class IllegalCollectorTransition(IllegalTransition):
    def __init__(self, ident: str, state: str, action: str) -> None:
        super().__init__("collector", ident, state, action)
