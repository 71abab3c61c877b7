"""`seqtrain train`: the engine's epochs, with a pipeline's actions (align, recog, a function) run between them.

The engine knows nothing of pipelines beyond the model of each epoch (`seqtrain.model.pipeline_stages`); what
runs between epochs is handed to it from here, so the layers keep pointing down.
"""

from __future__ import annotations

from collections.abc import Callable

from seqtrain.config import Config
from seqtrain.pipeline.actions import make_pipeline_actions
from seqtrain.train.distributed.run import DistributedRun
from seqtrain.train.engine import TrainResult
from seqtrain.train.engine import train as train_epochs


def train(config: Config) -> TrainResult:
    """Trains a run (resuming where it stopped); a pipeline's due actions run once each, between epochs."""

    def actions(ranks: DistributedRun) -> Callable[[int], object]:
        return make_pipeline_actions(config, ranks).run_due

    return train_epochs(config, between_epochs=actions)
