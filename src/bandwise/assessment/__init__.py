"""Scoring essays: band rules, task detection, the fitted offline and the LLM assessors."""
