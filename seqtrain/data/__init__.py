"""Datasets, sequence ordering, batching and loading."""
