"""The legacy bot's SQLite schema and value conventions, shared by migrations and the importer."""
