"""Declares every config key; importing this package fills the registry.

One module per concern, so each issue adds its keys in its own file.
"""

from seqtrain.config.keys import align, core, data, distributed, hooks, nn, optim, pipeline, pretrain, recog  # noqa: F401
