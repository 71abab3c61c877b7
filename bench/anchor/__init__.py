"""The anchor benchmark: seqtrain vs. a plain PyTorch loop vs. RETURNN on the same model, data and batches."""
