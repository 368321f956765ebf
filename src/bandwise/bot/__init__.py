"""The Telegram bot (aiogram 3): dispatcher, handlers, texts, charts."""
