"""Database health: metrics, PostgreSQL statistics, alerts, status and the operator's page."""
