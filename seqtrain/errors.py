"""Errors for user mistakes (config, data, checkpoint, command line).

The CLI prints these as one clear message without a traceback, because they are not bugs in
seqtrain but something the user can fix; the message must say what to do.
"""


class SeqtrainError(Exception):
    """Base class of all errors that point at user input rather than at a bug."""


class ConfigError(SeqtrainError):
    """A config key is unknown, has the wrong type, or is inconsistent with another key."""


class DataError(SeqtrainError):
    """A data file or sequence is missing, malformed, or does not match `extern_data`."""


class CheckpointError(SeqtrainError):
    """A checkpoint is missing, truncated, corrupt, or does not fit the model."""
