"""Engine, sessions, readiness, retries and schema migrations for both engines."""
