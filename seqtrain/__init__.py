"""seqtrain: train sequence models on PyTorch from one Python config file."""

__version__ = "0.1.0"
