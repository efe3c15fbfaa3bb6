"""How many calls to launch: pure functions of a snapshot (numpy/scipy)."""
