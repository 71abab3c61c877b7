"""Declares every config key; importing this package fills the registry.

One module per concern, so each issue adds its keys in its own file.
"""

from seqtrain.config.keys import core, data, hooks, recog  # noqa: F401
