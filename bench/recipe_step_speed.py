"""Training speed of the tts_digits recipes: conformer_ctc (net dict) vs ctc_blstm (the core recipe), same batches.

    python -m bench.recipe_step_speed [--batches 4 --repeats 3 --threads 2 --precisions float32,bfloat16]

Takes real batches of the recipe's batch list (epoch 1, spread over the epoch) when the corpus is there
(TTS_DIGITS_DATA, else data/tts_digits, else /work/shared/data/tts_digits_sentences), otherwise random
features of the corpus's mean length. Runs full training steps (forward, losses, backward, update) of
both recipes' models on the same batches and prints one JSON line: train frames per second of each,
their ratio, and the estimated minutes per full epoch (1,237,088 frames) on this machine. The 45-minute
budget of the conformer recipe is `num_epochs` x that estimate + evaluation. With `--precisions
float32,bfloat16` each recipe also runs under seqtrain's `torch_amp = "bfloat16"` autocast (no GradScaler),
interleaved with the float32 runs, and the line gains each recipe's bfloat16 / float32 speed ratio: whether
mixed precision pays on this CPU at the recipes' real batch sizes (8000-frame batches, not a toy step).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from bench.timing import interleaved_fastest
from seqtrain.config import Config, load_config
from seqtrain.data.loader import Batch, iterate_batches
from seqtrain.data.setup import build_data, plan_for
from seqtrain.model.context import StepContext
from seqtrain.model.make_builder import make_model_builder
from seqtrain.model.precision import Precision
from seqtrain.rng import derive_seed, seed_all
from seqtrain.train.optim.optimizers import make_optimizer

REPO = Path(__file__).resolve().parents[1]
EPOCH_FRAMES = 1_237_088
CANDIDATES = [os.environ.get("TTS_DIGITS_DATA", ""), "data/tts_digits", "/work/shared/data/tts_digits_sentences"]


def corpus_dir() -> str | None:
    return next((c for c in CANDIDATES if c and (Path(c) / "train.hdf").is_file()), None)


def real_batches(config: Config, count: int) -> list[Batch]:
    data = build_data(config, need_train=True)
    assert data.train is not None
    plan = plan_for(config, data.train, 1)
    step = max(1, len(plan.batches) // count)
    specs = plan.batches[::step][:count]
    return list(iterate_batches(data.train.dataset, specs, dtypes=data.dtypes, num_workers=0, random_seed=1, epoch=1))


def random_batches(count: int) -> list[Batch]:
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        lengths = torch.randint(150, 260, (36,), generator=gen)
        labels = (lengths // 6).int()
        x = torch.randn(36, int(lengths.max()), 80, generator=gen)
        y = torch.randint(0, 27, (36, int(labels.max())), generator=gen, dtype=torch.int32)
        batches.append(
            Batch(
                {"data": x, "classes": y},
                {"data": lengths.int(), "classes": labels},
                [str(i) for i in range(36)],
                list(range(36)),
            )
        )
    return batches


PRECISIONS = {
    "float32": Precision(),
    "bfloat16": Precision(amp=True, dtype=torch.bfloat16),  # the recipes' `torch_amp = "bfloat16"`, no GradScaler
}


def train_part(config: Config, batches: list[Batch], precision: Precision) -> Callable[[int], None]:
    """A function that runs training steps on all `batches`, numbered from 1000 x its argument (the round)."""
    builder = make_model_builder(config)
    seed_all(derive_seed(1, "init", 1))
    model = builder.build(epoch=1, step=0).train()
    optimizer = make_optimizer(config.get("optimizer"), model, learning_rate=1e-4)

    def run(round_number: int) -> None:
        step0 = round_number * 1000
        for i, batch in enumerate(batches):
            seed_all(derive_seed(1, "train-step", 2, step0 + i))
            ctx = StepContext(train=True, epoch=2, step=step0 + i)  # epoch 2: SpecAugment is on
            with precision.autocast(torch.device("cpu")):
                builder.train_step(model=model, batch=batch, ctx=ctx)
                total = ctx.total_loss()
            assert total is not None
            total.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precisions", default="float32", help="comma-separated: float32, bfloat16")
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or "float32" not in precisions:
        parser.error(f"--precisions: float32 and any of {', '.join(PRECISIONS)}; got {args.precisions!r}")
    torch.set_num_threads(args.threads)
    corpus = corpus_dir()
    if corpus:
        os.environ["TTS_DIGITS_DATA"] = corpus
    conformer = load_config(REPO / "recipes/tts_digits/conformer_ctc.py")
    blstm = load_config(REPO / "recipes/tts_digits/ctc_blstm.py")
    batches = real_batches(conformer, args.batches) if corpus else random_batches(args.batches)
    frames = sum(b.num_frames("data") for b in batches)
    parts = {
        f"{name}/{precision}": train_part(config, batches, PRECISIONS[precision])
        for name, config in (("conformer", conformer), ("blstm", blstm))
        for precision in precisions
    }
    seconds = interleaved_fastest(parts, args.repeats)
    conformer_fps, blstm_fps = frames / seconds["conformer/float32"], frames / seconds["blstm/float32"]
    amp = {
        f"{name}_{precision}_frames_per_s": round(frames / seconds[f"{short}/{precision}"])
        for name, short in (("conformer_ctc", "conformer"), ("ctc_blstm", "blstm"))
        for precision in precisions
        if precision != "float32"
    }
    amp_ratios = {
        f"ratio_{name}_{precision}_vs_float32": round(seconds[f"{short}/float32"] / seconds[f"{short}/{precision}"], 3)
        for name, short in (("conformer_ctc", "conformer"), ("ctc_blstm", "blstm"))
        for precision in precisions
        if precision != "float32"
    }
    print(
        json.dumps(
            {
                "bench": "recipe_step_speed",
                "what": "train frames/s of recipes/tts_digits conformer_ctc (net dict) vs ctc_blstm, same batches",
                "data": corpus or "random features",
                "frames": frames,
                "threads": args.threads,
                "conformer_ctc_frames_per_s": round(conformer_fps),
                "ctc_blstm_frames_per_s": round(blstm_fps),
                "ratio_conformer_vs_blstm": round(conformer_fps / blstm_fps, 3),
                "conformer_ctc_minutes_per_epoch": round(EPOCH_FRAMES / conformer_fps / 60, 2),
                "ctc_blstm_minutes_per_epoch": round(EPOCH_FRAMES / blstm_fps / 60, 2),
                **amp,
                **amp_ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
