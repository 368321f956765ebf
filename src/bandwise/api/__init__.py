"""The HTTP API (FastAPI): health, submissions, history."""
