"""Running a pipeline's actions between training stages, each exactly once.

An action runs when every epoch before it is trained, before the next epoch starts (or at the end).
When it has finished, a completion marker `<model>.pipeline/<NN>.<name>.done.json` is written
atomically (temp file, fsync, rename) with what it reported (alignment sizes and how many frames
changed label, WER, ...); an action with a marker is skipped, so rerunning the training command after
a crash redoes only an action that had not finished. Its outputs are written atomically too
(`seqtrain align` writes its HDF file under a temporary name), so a crash never leaves a half file that a
later stage would read. Delete a marker (or an align action's output) to run the action again.

    align   {"data": {dataset: output.hdf}, "mode": ..., "compare_to": {dataset: old.hdf}}  (seqtrain align)
    recog   {"data": "dev" or [...]}: WER, hypotheses in <model>.pipeline/<name>.<dataset>.txt (seqtrain recog)
    f       f(*, epoch, config, directory) -> dict | None: anything else (its dict is kept in the marker)
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from seqtrain.align.dump import align_dataset
from seqtrain.config import Config
from seqtrain.config.settings import RecogSettings, RunSettings
from seqtrain.errors import ConfigError
from seqtrain.model.builder import call_with_accepted
from seqtrain.model.pipeline_stages import ActionStage, Pipeline, pipeline_of
from seqtrain.recog.run import recognize

log = logging.getLogger("seqtrain")


def pipeline_dir(model_prefix: str | Path) -> Path:
    return Path(f"{model_prefix}.pipeline")


def marker_path(directory: Path, action: ActionStage) -> Path:
    return directory / f"{action.index:02d}.{action.name}.done.json"


def read_marker(directory: Path, action: ActionStage) -> dict[str, Any] | None:
    path = marker_path(directory, action)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a marker is written atomically; an unreadable one is treated as missing


def _write_json_atomic(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _align(action: ActionStage, config: Config, directory: Path) -> dict[str, Any]:
    compare = action.options.get("compare_to") or {}
    reports = {}
    for dataset, output in action.options["data"].items():
        report = align_dataset(
            config,
            dataset_name=dataset,
            output=Path(output),
            epoch=action.model_epoch,
            mode=action.options.get("mode"),
            compare_to=Path(compare[dataset]) if dataset in compare else None,
        )
        log.info("pipeline %s: %s", action.name, report)
        entry: dict[str, Any] = {
            "output": str(output),
            "mode": report.mode,
            "num_seqs": report.num_seqs,
            "num_frames": report.num_frames,
            "left_out": len(report.skipped),
            "score_per_frame": report.score_per_frame,
        }
        if report.change is not None:
            entry["changed_frames"] = report.change.changed_frames
            entry["compared_frames"] = report.change.num_frames
            entry["changed_fraction"] = report.change.changed_fraction
        reports[dataset] = entry
    return reports


def _recog(action: ActionStage, config: Config, directory: Path) -> dict[str, Any]:
    names = action.options.get("data", "dev")
    results = {}
    for dataset in [names] if isinstance(names, str) else names:
        output = directory / f"{action.name}.{dataset}.txt"
        result = recognize(config, dataset_name=dataset, epoch=action.model_epoch, output=output)
        log.info("pipeline %s: epoch %d %s: %s", action.name, result.epoch, dataset, result.wer)
        wer = result.wer
        results[dataset] = {
            "wer": wer.wer,
            "errors": wer.errors,
            "ref_words": wer.ref_words,
            "substitutions": wer.substitutions,
            "deletions": wer.deletions,
            "insertions": wer.insertions,
            "num_seqs": wer.num_seqs,
            "decoder": RecogSettings.from_config(config).recog_decoder,
            "hypotheses": str(output),
        }
    return results


def _custom(action: ActionStage, config: Config, directory: Path) -> dict[str, Any]:
    assert callable(action.kind)
    result = call_with_accepted(action.kind, epoch=action.model_epoch, config=config, directory=directory)
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise ConfigError(f"pipeline stage {action.name!r}: the action returned {type(result).__name__}, not a dict")
    try:
        json.dumps(result)
    except TypeError as e:
        raise ConfigError(f"pipeline stage {action.name!r}: the action's result must be JSON data ({e})") from None
    return result


class Ranks(Protocol):
    """What the actions need of the run's processes (`seqtrain.train.distributed.run.DistributedRun`)."""

    @property
    def is_main(self) -> bool: ...

    def check_agree(self, what: str, **values: object) -> None: ...


class PipelineActions:
    """Runs the actions that are due; only the main process runs them, the others wait for it (the files they
    write, like checkpoints, must be on a filesystem all nodes share)."""

    def __init__(
        self, pipeline: Pipeline, config: Config, *, is_main: bool, agree: Callable[[str], None] | None = None
    ) -> None:
        prefix = RunSettings.from_config(config).model
        if not prefix and pipeline.actions:
            raise ConfigError("a pipeline with actions needs `model`: actions read checkpoints and write markers there")
        self.pipeline = pipeline
        self.config = config
        self.directory = pipeline_dir(prefix) if prefix else Path(".")
        self.is_main = is_main
        self.agree = agree

    def run_due(self, trained_epochs: int) -> list[str]:
        """Runs every unfinished action whose epochs are all trained; returns the names it ran.

        Only the main process runs actions and reads markers; all processes then meet once, so that none
        starts the next epoch before its data (an alignment) is written. Which actions are due depends on
        `trained_epochs` only, so every process takes part in the same meetings.
        """
        due = [a for a in self.pipeline.actions if a.after_epoch <= trained_epochs]
        ran = []
        for action in due if self.is_main else []:
            if read_marker(self.directory, action) is None or not self._outputs_exist(action):
                self._run(action)
                ran.append(action.name)
        if due and self.agree is not None:
            self.agree(f"pipeline actions after epoch {trained_epochs}")
        return ran

    def _outputs_exist(self, action: ActionStage) -> bool:
        """A finished align action whose output file is gone (deleted by hand) must run again."""
        if action.kind != "align":
            return True
        missing = [str(p) for p in action.options["data"].values() if not Path(p).is_file()]
        if missing:
            log.warning("WARNING: pipeline %r is marked done but %s is missing; running it again", action.name, missing)
        return not missing

    def _run(self, action: ActionStage) -> None:
        model = f"model of epoch {action.model_epoch}" if action.model_epoch else "no model"
        log.info("pipeline: running %s %r (%s)", action.kind_name, action.name, model)
        start = time.perf_counter()
        config = self.pipeline.action_config(self.config, action)
        self.directory.mkdir(parents=True, exist_ok=True)
        run = {"align": _align, "recog": _recog}.get(action.kind if isinstance(action.kind, str) else "", _custom)
        report = run(action, config, self.directory)
        seconds = time.perf_counter() - start
        marker = {
            "stage": action.name,
            "action": action.kind_name,
            "after_epoch": action.after_epoch,
            "model_epoch": action.model_epoch,
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "report": report,
        }
        _write_json_atomic(marker_path(self.directory, action), marker)
        log.info("pipeline: %r done in %.1f s (%s)", action.name, seconds, marker_path(self.directory, action))


class NoActions:
    def run_due(self, trained_epochs: int) -> list[str]:
        return []


def make_pipeline_actions(config: Config, ranks: Ranks) -> PipelineActions | NoActions:
    """The runner of a pipeline's actions (nothing without a pipeline); other ranks wait for the main one."""
    pipeline = pipeline_of(config)
    if pipeline is None:
        return NoActions()
    return PipelineActions(pipeline, config, is_main=ranks.is_main, agree=lambda what: ranks.check_agree(what))
