"""Test tooling shared by tests and benchmarks; never installed, never in the image.

A throwaway PostgreSQL cluster, PgBouncer, `bandwise serve` and bot-runner child processes,
the load generator, a fake LLM server, legacy SQLite files and Telegram update builders.
Importable from the repository root (pytest's ``pythonpath``, the benchmarks' ``sys.path``).
"""
