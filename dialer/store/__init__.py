"""The case store: tables, migrations and async repositories (an adapter of the core)."""
