"""The two models of the GPU benchmark, each with its data, its batching and what the plain loop trains.

`anchor`: the anchor benchmark's 2x256 BLSTM with frame-wise CE on its synthetic data (`bench/anchor`); seqtrain
trains it with the anchor's own config, `bench/anchor/seqtrain_bench.py`.

`conformer`: the conformer of `recipes/tts_digits/conformer_ctc.py` (its net dict: conv front end, 6 conformer
blocks of 144 dims, CTC + auxiliary CTC, AdamW, global-norm clipping) on synthetic data of the recipe's shape
(80-dim features, 27 labels, a label per 8 frames); seqtrain trains it with `seqtrain_conformer.py`, which takes
everything but the data from the recipe. The model exists only as a net dict, so the plain loop builds the very
same `nn.Module` with seqtrain's net-dict builder (seeded as seqtrain seeds it: the same initial weights) and
computes the losses with it, and follows the recipe's per-step learning rate and weight-decay groups: the model's
arithmetic is the same on both sides, the loop around it (data, device transfer, autocast, backward, optimizer) is
plain PyTorch. Only dropout and stochastic depth draw other masks (seqtrain reseeds every step, the plain loop
does not), so the two epoch losses differ by ~2 % on tiny data; reseeded like seqtrain, the plain loop gives
seqtrain's loss to all printed digits (checked once by hand).

Both take their batches from `plain_torch`'s re-implementation of RETURNN's batching; the harness checks that
seqtrain's own batch list is the same before timing anything.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np
import torch
from torch import nn

from bench.anchor import gen_data, plain_torch

REPO = Path(__file__).resolve().parents[2]
CONFORMER_RECIPE = "recipes.tts_digits.conformer_ctc"
CONFORMER_DATA_FILE = "train_conformer.hdf"
CONFORMER_FRAMES_PER_LABEL = 8  # 4x subsampling leaves >= 2 frames per label: every CTC path exists
INIT_SEED = 42  # as in the anchor
SEQTRAIN_RANDOM_SEED = 42  # seqtrain's default `random_seed`, which the conformer config keeps


@dataclass(frozen=True)
class ModelSpec:
    name: str
    batch_size: int  # padded frames, as in the seqtrain config
    max_seqs: int
    seqtrain_config: Path
    report_loss: str  # the train score in seqtrain's epoch summary that the plain loop computes the same way

    def data_file(self, directory: Path) -> Path:
        if self.name == "anchor":
            return gen_data.data_path(directory, "ce")
        return Path(directory) / CONFORMER_DATA_FILE

    def write_data(self, directory: Path, num_seqs: int) -> Path:
        if self.name == "anchor":
            return gen_data.write_hdf(self.data_file(directory), gen_data.generate(num_seqs), "ce")
        return write_conformer_data(self.data_file(directory), num_seqs)

    def seqtrain_env(self, data_dir: Path, threads: int) -> dict[str, str]:
        """The environment both seqtrain configs read (`BENCH_LOSS` only the anchor's)."""
        return {"BENCH_DATA_DIR": str(data_dir), "BENCH_LOSS": "ce", "BENCH_THREADS": str(threads)}


def conformer_recipe() -> ModuleType:
    return importlib.import_module(CONFORMER_RECIPE)


def model_specs() -> dict[str, ModelSpec]:
    recipe = conformer_recipe()
    return {
        "anchor": ModelSpec(
            "anchor", plain_torch.BATCH_SIZE, plain_torch.MAX_SEQS, REPO / "bench/anchor/seqtrain_bench.py", "ce"
        ),
        "conformer": ModelSpec(
            "conformer", recipe.batch_size, recipe.max_seqs, Path(__file__).with_name("seqtrain_conformer.py"), "output"
        ),
    }


def write_conformer_data(path: Path, num_seqs: int) -> Path:
    """Random features and labels in the recipe's shape; the anchor's length distribution and seed."""
    from seqtrain.data.dataset import DataSpec
    from seqtrain.data.hdf import HDFWriter

    recipe = conformer_recipe()
    dim, num_labels = recipe.extern_data["data"]["dim"], recipe.extern_data["classes"]["dim"]
    rng = np.random.RandomState(gen_data.SEED)
    lengths = rng.randint(gen_data.MIN_LEN, gen_data.MAX_LEN + 1, size=num_seqs)
    writer = HDFWriter(
        path,
        {
            "data": DataSpec(dim=dim, dtype="float32", feature_shape=(dim,)),
            "classes": DataSpec(dim=num_labels, dtype="int32", sparse=True),
        },
    )
    for i, frames in enumerate(lengths):
        labels = rng.randint(0, num_labels, size=max(1, frames // CONFORMER_FRAMES_PER_LABEL)).astype(np.int32)
        writer.add(f"seq-{i}", {"data": rng.standard_normal((frames, dim)).astype(np.float32), "classes": labels})
    return writer.close()


def plain_batches(in_lens: np.ndarray, tgt_lens: np.ndarray, *, batch_size: int, max_seqs: int) -> list[list[int]]:
    """Epoch 1's batches as RETURNN makes them (and seqtrain, checked), for any batch size."""
    order = plain_torch.laplace_order(in_lens, seqs_per_bin=plain_torch.LAPLACE_SEQS_PER_BIN, seed=1)
    return plain_torch.make_batches(order, [in_lens, tgt_lens], batch_size=batch_size, max_seqs=max_seqs)


# ---------------------------------------------------------------------------- what the plain loop trains


@dataclass
class StepLoss:
    """One step: the objective to backpropagate, and the reported loss as sum and count (per frame / label)."""

    objective: torch.Tensor
    report_sum: torch.Tensor
    report_count: torch.Tensor | int


class PlainModel(Protocol):
    model: nn.Module
    optimizer: torch.optim.Optimizer
    clip_norm: float | None

    def set_learning_rate(self, step: int) -> None: ...

    def loss(
        self, step: int, x: torch.Tensor, x_lens: torch.Tensor, y: torch.Tensor, y_lens: torch.Tensor
    ) -> StepLoss: ...


class AnchorPlain:
    """plain_torch.py's model, optimizer and summed frame-wise CE."""

    clip_norm = None

    def __init__(self, device: torch.device) -> None:
        torch.manual_seed(INIT_SEED)
        self.model = plain_torch.Model(plain_torch.NUM_CLASSES).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=plain_torch.LR)

    def set_learning_rate(self, step: int) -> None:
        """Constant, as in plain_torch.py."""

    def loss(self, step: int, x: torch.Tensor, x_lens: torch.Tensor, y: torch.Tensor, y_lens: torch.Tensor) -> StepLoss:
        logits = self.model(x, x_lens)
        target = nn.utils.rnn.pack_padded_sequence(y, x_lens, batch_first=True, enforce_sorted=False)
        loss = nn.functional.cross_entropy(logits.data, target.data.long(), reduction="sum")
        return StepLoss(loss, loss.detach(), int(x_lens.sum()))


class ConformerPlain:
    """The recipe's net dict as an `nn.Module`, its losses (CTC + 0.3 aux CTC, normalized), AdamW and clipping."""

    def __init__(self, device: torch.device) -> None:
        from seqtrain.config import Config
        from seqtrain.model.net_dict_builder import NetDictModelBuilder
        from seqtrain.rng import derive_seed, seed_all
        from seqtrain.train.optim.lr_schedule import parse_step_shape

        recipe = conformer_recipe()
        self.builder = NetDictModelBuilder(
            Config.from_dict({"network": recipe.network, "extern_data": recipe.extern_data})
        )
        seed_all(derive_seed(SEQTRAIN_RANDOM_SEED, "init", 1))  # seqtrain's seeding of the build: the same weights
        self.model = self.builder.build(epoch=1, step=0).to(device)
        opts = recipe.optimizer
        params = list(self.model.parameters())
        groups = [  # weight decay on matrices and kernels only (nanoGPT's rule; seqtrain's groups come out the same)
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": opts["weight_decay"]},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(groups, lr=recipe.learning_rate, eps=opts["epsilon"])
        self.clip_norm = float(recipe.gradient_clip_global_norm)
        self.learning_rate = recipe.learning_rate
        self.lr_shape = parse_step_shape(recipe.learning_rate_step_schedule)

    def set_learning_rate(self, step: int) -> None:
        """The recipe's warmup + cosine per step (its formula from seqtrain, so both sides train alike and their
        losses compare; a plain script would write the same few lines as a LambdaLR)."""
        lr = self.learning_rate * (self.lr_shape.factor(step) if self.lr_shape else 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def loss(self, step: int, x: torch.Tensor, x_lens: torch.Tensor, y: torch.Tensor, y_lens: torch.Tensor) -> StepLoss:
        from seqtrain.data.collate import Batch
        from seqtrain.model.context import StepContext

        batch = Batch({"data": x, "classes": y}, {"data": x_lens, "classes": y_lens}, [], [])
        ctx = StepContext(train=True, epoch=1, step=step)
        self.builder.train_step(model=self.model, batch=batch, ctx=ctx)
        objective = ctx.total_loss()
        assert objective is not None, "the recipe's net dict marks its CTC losses"
        report = ctx.losses["output"]
        return StepLoss(objective, report.summed.detach(), report.inv_norm_factor)


def plain_model(name: str, device: torch.device) -> PlainModel:
    return AnchorPlain(device) if name == "anchor" else ConformerPlain(device)
