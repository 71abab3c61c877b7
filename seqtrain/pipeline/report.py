"""Where a pipeline stands and what each stage gave: `seqtrain pipeline CONFIG`.

One row per stage, from the files the run wrote (nothing is recomputed): training stages show how many
of their epochs are trained and the scores of their last trained epoch (dev loss and error, e.g. the
frame error rate of a CE stage); align actions how many frames changed label against `compare_to`;
recog actions the WER; own actions the dict they returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtrain.checkpoint.run_files import RunFiles
from seqtrain.config import Config
from seqtrain.config.settings import RunSettings
from seqtrain.errors import ConfigError
from seqtrain.model.pipeline_stages import ActionStage, TrainStage, pipeline_of
from seqtrain.pipeline.actions import pipeline_dir, read_marker
from seqtrain.train.optim.lr_file import read_scores


@dataclass
class StageStatus:
    name: str
    kind: str
    epochs: str
    status: str
    results: dict[str, Any] = field(default_factory=dict)

    def results_text(self) -> str:
        parts = []
        for key, value in self.results.items():
            parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
        return ", ".join(parts)


def _train_status(stage: TrainStage, finished: set[int], scores: dict[int, Any]) -> StageStatus:
    epochs = range(stage.first_epoch, stage.last_epoch + 1)
    done = [e for e in epochs if e in finished]
    status = "done" if len(done) == len(epochs) else (f"{len(done)}/{len(epochs)} epochs" if done else "pending")
    results: dict[str, Any] = {}
    if done and done[-1] in scores:
        results = {"epoch": done[-1], **dict(sorted(scores[done[-1]].error.items()))}
    return StageStatus(stage.name, "train", f"{stage.first_epoch}-{stage.last_epoch}", status, results)


def _action_results(action: ActionStage, report: dict[str, Any]) -> dict[str, Any]:
    if action.kind == "recog":
        return {f"{data} WER": f"{100 * r['wer']:.2f}%" for data, r in report.items()}
    if action.kind == "align":
        results = {}
        for data, r in report.items():
            if "changed_fraction" in r:
                changed = f"{100 * r['changed_fraction']:.2f}% ({r['changed_frames']}/{r['compared_frames']})"
                results[f"{data} frames changed"] = changed
            else:
                results[f"{data} frames"] = r["num_frames"]
        return results
    return dict(report)


def pipeline_status(config: Config) -> list[StageStatus]:
    pipeline = pipeline_of(config)
    if pipeline is None:
        raise ConfigError("this config has no `pipeline`")
    run = RunSettings.from_config(config)
    prefix = run.model
    if not prefix:
        raise ConfigError("the config sets no `model` path, so there is no run to report on")
    files = RunFiles(Path(prefix))
    scores = read_scores(files.learning_rates(run.learning_rate_file))
    # an epoch is trained when it has train scores (its checkpoint may be cleaned up) or a checkpoint
    finished = {e for e, d in scores.items() if any(k.startswith("train_") for k in d.error)}
    finished |= {r.epoch for r in files.checkpoints() if r.complete}
    rows = []
    for stage in pipeline.stages:
        if isinstance(stage, TrainStage):
            rows.append(_train_status(stage, finished, scores))
            continue
        marker = read_marker(pipeline_dir(prefix), stage)
        status = "done" if marker is not None else "pending"
        results = _action_results(stage, marker["report"]) if marker is not None else {}
        rows.append(StageStatus(stage.name, stage.kind_name, f"after {stage.after_epoch}", status, results))
    return rows


def format_status(rows: list[StageStatus]) -> list[str]:
    table = [("stage", "kind", "epochs", "status", "results")]
    table += [(r.name, r.kind, r.epochs, r.status, r.results_text()) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(row[:4], widths)), row[4]]).rstrip() for row in table]


def status_json(rows: list[StageStatus]) -> list[str]:
    return [json.dumps(r.__dict__, sort_keys=True) for r in rows]
