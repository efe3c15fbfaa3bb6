"""Orchestration: what to call and who owns it. The hopper's supply (supply: leases the
next callable cases, compliance first), case priorities (priority), reassignment between
collectors (reassign), the scheduled jobs (jobs), their settings (settings), and the
`Orchestrator` that ties them to the running campaigns (orchestrator)."""
