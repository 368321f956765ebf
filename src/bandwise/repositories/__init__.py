"""Queries, one module per table. Functions take a session; the caller owns the transaction."""
