"""bandwise: score IELTS Writing essays on Telegram, on SQLite or PostgreSQL."""

__version__ = "0.1.0"
