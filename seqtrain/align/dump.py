"""`seqtrain align`: frame-level alignments of a whole dataset, written to HDF under the dataset's tags.

Every sequence is visited once (no epoch filters, partitions, chunking or length limits), in
batches of similar length when a model runs. The model's `forward_step` gives per-frame log-probs, the
targets come from the same batch, and the alignment is written in RETURNN's HDF layout as a sparse
int32 data key with the input's sequence tags, in the dataset's order, so a MetaDataset can pair
it with the features by tag. The file appears only when complete (temp file + rename).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqtrain.align.compare import AlignmentChange, compare_alignments
from seqtrain.config import Config
from seqtrain.config.settings import AlignmentSettings, DataSettings, Settings
from seqtrain.data.batching import BatchSpec, Items, make_batches
from seqtrain.data.dataset import DataSpec
from seqtrain.data.epoch import sort_key_lengths
from seqtrain.data.factory import DatasetSetup
from seqtrain.data.hdf import INPUT_KEY, HDFWriter
from seqtrain.data.loader import Batch, iterate_batches
from seqtrain.data.setup import DataSetup, build_data
from seqtrain.errors import ConfigError, DataError
from seqtrain.hmm.aligner import Aligner, AlignSettings
from seqtrain.model.forward import forward_outputs
from seqtrain.model.trained_model import TrainedModel, load_trained_model

log = logging.getLogger("seqtrain")


@dataclass(frozen=True)
class AlignReport:
    """What `seqtrain align` did: for its summary line and for pipelines that track realignment."""

    output: Path
    mode: str
    epoch: int | None
    num_seqs: int
    num_frames: int
    skipped: tuple[str, ...]
    score_per_frame: float | None  # Viterbi log-score per frame (ctc, hmm); None for linear
    seconds: float
    change: AlignmentChange | None

    def __str__(self) -> str:
        model = f"epoch {self.epoch}" if self.epoch is not None else "no model"
        text = (
            f"{self.mode} alignment ({model}) of {self.num_seqs} seqs, {self.num_frames} frames "
            f"-> {self.output} in {self.seconds:.1f} s"
        )
        if self.score_per_frame is not None:
            text += f"; score {self.score_per_frame:.4f} per frame"
        if self.skipped:
            text += f"; {len(self.skipped)} seqs left out (too short)"
        if self.change is not None:
            text += f"; {self.change}"
        return text


def align_dataset(
    config: Config,
    *,
    dataset_name: str,
    output: Path,
    epoch: int | None = None,
    mode: str | None = None,
    compare_to: Path | None = None,
) -> AlignReport:
    """Aligns every sequence of `dataset_name` and writes `output`.

    ctc/hmm load the model of `epoch` (default: the last finished one). linear needs no model: its
    frame counts are the input lengths // `align_frame_subsampling`, or, if `epoch` is given, the
    lengths of that model's output.
    """
    start = time.perf_counter()
    if compare_to is not None and not compare_to.is_file():
        raise DataError(f"--compare-to {compare_to}: no such alignment file")
    config = config.with_values({"task": "align"})
    settings = AlignSettings.from_settings(AlignmentSettings.from_config(config), mode=mode)
    data = build_data(config, need_train=False)
    setup = data.by_name(dataset_name)
    aligner = _make_aligner(settings, data, setup)
    trained = load_trained_model(config, epoch) if (aligner.needs_model_scores or epoch is not None) else None
    batch_epoch, batching = (trained.epoch if trained is not None else 1), DataSettings.from_config(config)
    batch_list = all_sequences(
        setup,
        batch_size=batching.batch_size.at(batch_epoch),
        max_seqs=batching.max_seqs.at(batch_epoch),
        sort_by_length=trained is not None,
    )
    alignments: dict[int, np.ndarray] = {}
    tags: dict[int, str] = {}
    skipped: list[str] = []
    total_score = 0.0
    for batch, frame_scores, frame_lengths in _frames(config, data, setup, trained, batch_list, settings):
        if frame_scores is not None and frame_scores.shape[-1] != aligner.num_classes:
            raise ConfigError(_class_count_message(settings, aligner, frame_scores.shape[-1]))
        labels, label_lengths = _targets(batch, settings.target_key, aligner, setup.name)
        result = aligner.align(frame_scores, frame_lengths, labels, label_lengths)
        feasible = result.feasible.cpu().tolist()
        classes = result.frame_classes.cpu().numpy().astype(np.int32)
        for i, (tag, index) in enumerate(zip(batch.seq_tags, batch.seq_indices, strict=True)):
            if not feasible[i]:
                _infeasible(settings, setup.name, tag, int(frame_lengths[i]), int(label_lengths[i]), output)
                skipped.append(tag)
                continue
            alignments[index] = classes[i, : int(frame_lengths[i])]
            tags[index] = tag
        if aligner.needs_model_scores:
            total_score += float(result.scores[result.feasible].sum())
    order = sorted(alignments)
    change = None
    if compare_to is not None:  # before writing: the old alignment may be the file being replaced
        change = compare_alignments({tags[i]: alignments[i] for i in order}, compare_to, settings.output_key)
    _write(output, settings.output_key, aligner, [(tags[i], alignments[i]) for i in order])
    num_frames = sum(int(alignments[i].shape[0]) for i in order)
    return AlignReport(
        output=output,
        mode=settings.mode,
        epoch=trained.epoch if trained else None,
        num_seqs=len(order),
        num_frames=num_frames,
        skipped=tuple(skipped),
        score_per_frame=total_score / num_frames if aligner.needs_model_scores and num_frames else None,
        seconds=time.perf_counter() - start,
        change=change,
    )


def all_sequences(
    setup: DatasetSetup, *, batch_size: int | dict[str, int], max_seqs: int, sort_by_length: bool
) -> list[BatchSpec]:
    """Every sequence once: sorted by length when a model runs (little padding to compute), else in
    file order (no model, so padding is free, and sequential reads of a compressed HDF file decompress
    each chunk once instead of once per sequence)."""
    lengths = setup.dataset.seq_lengths()
    keys = sort_key_lengths(lengths)
    order = np.argsort(keys, kind="stable") if sort_by_length else np.arange(len(keys))
    return make_batches(Items.whole(order, lengths), batch_size=batch_size, max_seqs=max_seqs)


def _make_aligner(settings: AlignSettings, data: DataSetup, setup: DatasetSetup) -> Aligner:
    spec = data.specs.get(settings.target_key)
    if spec is None:
        raise ConfigError(
            f"align_target {settings.target_key!r} is not a data key of dataset {setup.name!r} "
            f"(it has {sorted(data.specs)})"
        )
    if not spec.sparse or not spec.dim:
        raise ConfigError(
            f"align_target {settings.target_key!r} must be sparse labels with a dim, got {spec.describe()}"
        )
    return Aligner(settings, num_labels=spec.dim, vocab=setup.dataset.labels(settings.target_key))


def _frames(
    config: Config,
    data: DataSetup,
    setup: DatasetSetup,
    trained: TrainedModel | None,
    batch_list: list[BatchSpec],
    settings: AlignSettings,
) -> Iterator[tuple[Batch, torch.Tensor | None, torch.Tensor]]:
    """(batch, frame scores or None, frame lengths) per batch: from the model, or from the input lengths."""
    if trained is None:
        run_settings = Settings.from_config(config)
        batches = iterate_batches(
            setup.dataset,
            batch_list,
            dtypes=data.dtypes,
            specs=data.specs,
            num_workers=run_settings.data.num_workers,
            timeout=run_settings.data.data_loader_timeout,
            random_seed=run_settings.run.random_seed,
            epoch=1,
        )
        for batch in batches:
            if INPUT_KEY not in batch.lengths:
                raise DataError(f"dataset {setup.name!r} has no {INPUT_KEY!r} key to count frames for linear alignment")
            frames = torch.div(batch.lengths[INPUT_KEY], settings.frame_subsampling, rounding_mode="floor")
            yield batch, None, frames.clamp(min=1).long()
        return
    for batch, outputs in forward_outputs(trained, data, setup.name, config, batch_list=batch_list):
        if settings.output_name not in outputs:
            raise ConfigError(
                f"forward_step marked outputs {sorted(outputs)}, but align reads {settings.output_name!r} "
                "(set align_output, or ctx.mark_as_output(name, log_probs, lengths=...))"
            )
        scores, lengths = outputs[settings.output_name]
        if lengths is None or scores.dim() != 3:
            raise ConfigError(
                f"output {settings.output_name!r} must be [batch, time, classes] with lengths: "
                f"ctx.mark_as_output({settings.output_name!r}, log_probs, lengths=...)"
            )
        yield batch, scores, lengths.long()


def _targets(batch: Batch, key: str, aligner: Aligner, dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's label sequences, checked: a label outside the classes (or equal to the CTC blank) is a data error."""
    labels, lengths = batch.data[key].long().cpu(), batch.lengths[key].long()
    blank = aligner.blank if aligner.settings.mode == "ctc" else None
    for i, tag in enumerate(batch.seq_tags):
        seq = labels[i, : int(lengths[i])]
        bad = seq[(seq < 0) | (seq >= aligner.num_labels) | (seq == (blank if blank is not None else -1))]
        if bad.numel():
            what = "the CTC blank (align_blank_index)" if int(bad[0]) == blank else f"outside [0, {aligner.num_labels})"
            raise DataError(
                f"dataset {dataset!r}, sequence {tag!r}: label {int(bad[0])} of {key!r} is {what}; "
                f"check extern_data's dim for {key!r} and align_blank_index"
            )
    return labels, lengths


def _class_count_message(settings: AlignSettings, aligner: Aligner, got: int) -> str:
    if settings.mode == "ctc":
        blank = f"blank at index {aligner.blank}" + (" among them" if aligner.blank < aligner.num_labels else "")
        hint = f"{aligner.num_labels} labels, {blank}; set align_blank_index if the model's blank is elsewhere"
    else:
        hint = (
            f"{aligner.num_labels} labels x {settings.states_per_label} states"
            + (" + silence" if aligner.num_classes > aligner.num_labels * settings.states_per_label else "")
            + "; check align_states_per_label / align_silence / align_silence_index"
        )
    return (
        f"output {settings.output_name!r} has {got} classes per frame, but {settings.mode} alignment "
        f"expects {aligner.num_classes} ({hint})"
    )


def _infeasible(settings: AlignSettings, dataset: str, tag: str, frames: int, labels: int, output: Path) -> None:
    message = (
        f"dataset {dataset!r}, sequence {tag!r}: {frames} frames are too few for its {labels} labels in the "
        f"{settings.mode} topology"
    )
    if not settings.skip_infeasible:
        raise DataError(f"{message}; set align_skip_infeasible=True to leave such sequences out of {output}")
    log.warning("%s; left out of the alignment", message)


def _write(output: Path, key: str, aligner: Aligner, seqs: list[tuple[str, np.ndarray]]) -> None:
    spec = DataSpec(dim=aligner.num_classes, dtype="int32", sparse=True, vocab=tuple(aligner.class_names()))
    writer = HDFWriter(output, {key: spec})
    for tag, classes in seqs:
        writer.add(tag, {key: classes})
    writer.close()
