"""Helpers shared by tests: essay texts, legacy SQLite files."""
