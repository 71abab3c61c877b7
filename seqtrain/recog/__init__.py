"""Decoding (CTC greedy, ...) and word error rates."""
