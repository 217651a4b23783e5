"""Benchmarks: each runs the real server on loopback and writes its figures to docs/benchmarks.md."""
