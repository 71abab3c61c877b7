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


class RunFileError(SeqtrainError):
    """A file or directory seqtrain writes (checkpoint, log, scores) cannot be created or written."""

    @classmethod
    def from_os_error(cls, error: OSError, what: str) -> "RunFileError":
        path = error.filename or "?"
        return cls(
            f"cannot write {what} {path}: {error.strerror or error}. Make the directory writable, free disk space "
            "or choose another `model` path; files written before are intact, and rerunning the command resumes"
        )
