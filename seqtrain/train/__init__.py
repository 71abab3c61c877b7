"""The training loop and everything it keeps across steps and epochs."""
