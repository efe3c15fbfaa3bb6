"""Discrete-event simulation of a campaign shift around the production engine.

scenario (YAML scenarios), loop (the next-event loop playing carrier, debtors and
collectors), run (one replication -> metrics), report (CIs, table, JSON), theory (closed
forms), blind (the Poisson dialer for the Erlang-B check), bench + bench_report (``dialer
bench pacing``), cli (the ``simulate`` and ``bench pacing`` commands). docs/simulation.md
has the details.
"""
