"""Data pipeline benchmarks: padding per ordering, loader throughput, main-process memory."""
