"""`seqtrain forward`: a trained model's outputs for every sequence of a dataset, written to HDF.

RETURNN's `task = "forward"`: each sequence's output frames [T, F] go into the HDF file's "data" key under the
sequence's tag, in RETURNN's layout, so RETURNN's tools, a `HDFDataset` or a `MetaDataset` (paired by tag) read
them. Sequences are forwarded sorted by length (little padding) and streamed to the file, which appears only when
complete (temp file + rename), like alignments (align/dump.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from seqtrain.align.dump import all_sequences
from seqtrain.config import Config
from seqtrain.config.settings import DataSettings, RecogSettings
from seqtrain.data.dataset import DataSpec
from seqtrain.data.hdf import INPUT_KEY, HDFWriter
from seqtrain.data.setup import build_data
from seqtrain.errors import ConfigError
from seqtrain.model.forward import forward_outputs
from seqtrain.model.trained_model import load_trained_model

log = logging.getLogger("seqtrain")


@dataclass(frozen=True)
class ForwardReport:
    output: Path
    output_name: str
    epoch: int
    num_seqs: int
    num_frames: int
    dim: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"forward (epoch {self.epoch}): output {self.output_name!r} [T, {self.dim}] of {self.num_seqs} seqs, "
            f"{self.num_frames} frames -> {self.output} in {self.seconds:.1f} s"
        )


def output_path(config: Config, given: Path | None) -> Path:
    """--output-hdf, else the config's `output_file` (RETURNN's key)."""
    if given is not None:
        return given
    configured = RecogSettings.from_config(config).output_file
    if not configured:
        raise ConfigError("seqtrain forward: give --output-hdf FILE or set output_file in the config")
    return Path(configured)


def pick_output(marked: dict[str, object], wanted: str | None) -> str:
    """The output to write: the one asked for; else the only one marked; else "output" (RETURNN's output layer)."""
    if wanted is not None:
        if wanted not in marked:
            raise ConfigError(f"forward_step marked the outputs {sorted(marked)}; --output-name {wanted!r} is not one")
        return wanted
    if len(marked) == 1:
        return next(iter(marked))
    if "output" in marked:
        return "output"
    raise ConfigError(f"forward_step marked several outputs {sorted(marked)}; choose one with --output-name")


def forward_dataset(
    config: Config, *, dataset_name: str, output: Path, epoch: int | None = None, output_name: str | None = None
) -> ForwardReport:
    """Forwards every sequence of `dataset_name` through the model of `epoch` (default: the last) into `output`."""
    start = time.perf_counter()
    config = config.with_values({"task": "forward"})
    data = build_data(config, need_train=False)
    setup = data.by_name(dataset_name)
    trained = load_trained_model(config, epoch)
    batching, recog = DataSettings.from_config(config), RecogSettings.from_config(config)
    batch_list = all_sequences(
        setup,
        batch_size=recog.forward_batch_size or batching.batch_size.at(trained.epoch),
        max_seqs=batching.max_seqs.at(trained.epoch),
        sort_by_length=True,
    )
    writer: HDFWriter | None = None
    name, dim, num_seqs, num_frames = "", 0, 0, 0
    try:
        for batch, outputs in forward_outputs(trained, data, setup.name, config, batch_list=batch_list):
            name = pick_output(outputs, output_name)
            values, lengths = outputs[name]
            if values.dim() != 3 or lengths is None:
                raise ConfigError(
                    f"output {name!r} must be [batch, time, features] with lengths to be written per frame; "
                    f"got shape {tuple(values.shape)}" + ("" if lengths is not None else " without lengths")
                )
            if writer is None:
                dim = int(values.shape[-1])
                writer = HDFWriter(output, {INPUT_KEY: DataSpec(dim=dim, dtype="float32", feature_shape=(dim,))})
            frames = values.to(torch.float32).cpu().numpy()
            for i, tag in enumerate(batch.seq_tags):
                length = int(lengths[i])
                writer.add(tag, {INPUT_KEY: frames[i, :length]})
                num_seqs, num_frames = num_seqs + 1, num_frames + length
        if writer is None:
            raise ConfigError(f"dataset {dataset_name!r} has no sequences to forward")
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return ForwardReport(output, name, trained.epoch, num_seqs, num_frames, dim, time.perf_counter() - start)
