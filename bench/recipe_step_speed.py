"""Training speed of the tts_digits recipes: conformer_ctc (net dict) vs ctc_blstm (the core recipe), same batches.

    python -m bench.recipe_step_speed [--batches 4 --repeats 3 --threads 2]

Takes real batches of the recipe's batch list (epoch 1, spread over the epoch) when the corpus is there
(TTS_DIGITS_DATA, else data/tts_digits, else /work/shared/data/tts_digits_sentences), otherwise random
features of the corpus's mean length. Runs full training steps (forward, losses, backward, update) of
both recipes' models on the same batches and prints one JSON line: train frames per second of each,
their ratio, and the estimated minutes per full epoch (1,237,088 frames) on this machine. The 45-minute
budget of the conformer recipe is `num_epochs` x that estimate + evaluation.
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


def train_part(config: Config, batches: list[Batch]) -> Callable[[int], None]:
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus = corpus_dir()
    if corpus:
        os.environ["TTS_DIGITS_DATA"] = corpus
    conformer = load_config(REPO / "recipes/tts_digits/conformer_ctc.py")
    blstm = load_config(REPO / "recipes/tts_digits/ctc_blstm.py")
    batches = real_batches(conformer, args.batches) if corpus else random_batches(args.batches)
    frames = sum(b.num_frames("data") for b in batches)
    parts = {"conformer": train_part(conformer, batches), "blstm": train_part(blstm, batches)}
    seconds = interleaved_fastest(parts, args.repeats)
    conformer_fps, blstm_fps = frames / seconds["conformer"], frames / seconds["blstm"]
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
            }
        )
    )


if __name__ == "__main__":
    main()
