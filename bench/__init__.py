"""Benchmarks run by hand (not in CI); see docs/BENCHMARKS.md."""
