"""Scoring essays: band rules, task detection, the heuristic and LLM assessors."""
