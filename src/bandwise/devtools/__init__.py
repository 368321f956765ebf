"""Tools for tests and benchmarks (a throwaway PostgreSQL cluster); never used in production."""
