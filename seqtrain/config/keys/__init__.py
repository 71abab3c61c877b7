"""Declares every config key; importing this package fills the registry.

One module per concern, so each issue adds its keys in its own file.
"""

from seqtrain.config.keys import (  # noqa: F401
    align,
    core,
    data,
    distributed,
    hooks,
    nn,
    optim,
    pipeline,
    precision,
    pretrain,
    recog,
)
