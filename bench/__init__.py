"""Benchmarks of p2n (run with bench/run)."""
