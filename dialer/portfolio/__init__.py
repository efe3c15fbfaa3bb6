"""Portfolios: loading cases from a CSV file into the store (csv_import), and writing a
synthetic portfolio with fictional numbers for demos and tests (demo)."""
