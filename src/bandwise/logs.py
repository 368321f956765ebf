"""Logging set-up: one format for every entry point; secrets never reach it."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "INFO") -> None:
    """Send log lines to stderr at ``level`` (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(handler, "_bandwise", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._bandwise = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Third-party libraries are chatty at INFO; essays and tokens can appear in their debug lines.
    for noisy in ("aiogram.event", "httpx", "openai", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
