"""Keys of multi-stage training pipelines (train -> align -> train ...), see `seqtrain.model.pipeline_stages`."""

from typing import Any

from seqtrain.config.registry import declare

G = "pipeline"
declare(
    "pipeline",
    list[dict[str, Any]] | None,
    None,
    "stages in order: training {'name', 'epochs': N, 'config': {key: value}} and actions {'name', 'action': "
    "'align' | 'recog' | f, ...}; an action's output feeds the next stages; finished stages are never redone",
    group=G,
)
