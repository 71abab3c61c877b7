"""Benchmarks: each prints one JSON line and compares against a baseline measured in the same run."""
