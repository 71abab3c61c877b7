"""`seqtrain recog`: decode datasets with a trained model and score them by WER.

The model runs over a dataset once (`Recognizer.forward`); its outputs stay on the CPU and are decoded under one
setting or many (`Recognizer.decode` with other recog_* settings, as `seqtrain recog --tune` does), so trying LM
weights costs decoding time only. The outputs of a whole dataset are held in memory: frames x classes x 4 bytes,
56 MB for 1,000 sequences of 500 frames over 28 classes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqtrain.config import Config
from seqtrain.config.settings import AlignmentSettings, RecogSettings
from seqtrain.data.setup import build_data
from seqtrain.data.vocab import LexiconVocab, Vocabulary
from seqtrain.errors import ConfigError, DataError
from seqtrain.model.forward import forward_outputs
from seqtrain.model.trained_model import load_trained_model
from seqtrain.recog.decoders import make_decoder
from seqtrain.recog.wer import WerResult, labels_to_text, word_error_rate

log = logging.getLogger("seqtrain")


@dataclass
class RecogResult:
    wer: WerResult
    hypotheses: dict[str, str]
    references: dict[str, str]
    epoch: int
    groups: dict[str, WerResult] = field(default_factory=dict)  # recog_score_groups: name -> WER of its sequences


@dataclass(frozen=True)
class OutputBatch:
    tags: list[str]
    scores: torch.Tensor  # [B, T, ...] on the CPU
    lengths: torch.Tensor  # [B]


@dataclass(frozen=True)
class Forwarded:
    """A dataset's model outputs (`recog_output`) with its references, ready to be decoded any number of times."""

    dataset: str
    vocab: Sequence[str]
    batches: list[OutputBatch]
    references: dict[str, str]
    to_text: Callable[[Sequence[int]], str]  # labels -> words: the dataset's Vocabulary, or `labels_to_text`


class Recognizer:
    """A trained model and its datasets, loaded once to forward several datasets and decode them under several
    settings; `cache` keeps what decoders build (a lexicon search) across settings."""

    def __init__(self, config: Config, epoch: int | None = None) -> None:
        self.config = config
        self.recog = RecogSettings.from_config(config)
        self.align = AlignmentSettings.from_config(config)  # hybrid models: the topology they were trained in
        self.data = build_data(config, need_train=False)
        self.trained = load_trained_model(config, epoch)
        self.cache: dict[object, object] = {}

    @property
    def epoch(self) -> int:
        return self.trained.epoch

    def forward(self, dataset_name: str) -> Forwarded:
        target, output_name = self.recog.recog_target, self.recog.recog_output
        dataset = self.data.by_name(dataset_name).dataset
        vocab = dataset.labels(target)
        if vocab is None:
            raise DataError(f"dataset {dataset_name!r} has no vocabulary for {target!r}; recog needs it to print text")
        to_text = _text_reader(dataset.vocabulary(target), vocab)
        batches, refs = [], {}
        for batch, outputs in forward_outputs(self.trained, self.data, dataset_name, self.config):
            if output_name not in outputs:
                raise ConfigError(
                    f"forward_step marked outputs {sorted(outputs)}, but recog decodes {output_name!r} "
                    "(set recog_output or call ctx.mark_as_output(name=..., ...))"
                )
            scores, lengths = outputs[output_name]
            if lengths is None:
                raise ConfigError(f"output {output_name!r} needs lengths: ctx.mark_as_output(..., lengths=...)")
            batches.append(OutputBatch(list(batch.seq_tags), scores.detach().cpu(), lengths.detach().cpu()))
            for i, tag in enumerate(batch.seq_tags):
                ref_len = int(batch.lengths[target][i])
                refs[tag] = to_text(batch.data[target][i, :ref_len].tolist())
        return Forwarded(dataset_name, vocab, batches, refs, to_text)

    def decode(self, forwarded: Forwarded, recog: RecogSettings | None = None) -> RecogResult:
        """Decodes with `recog` (default: the config's recog_* settings) and scores against the references."""
        vocab = forwarded.vocab
        recog = self.recog if recog is None else recog
        decode = make_decoder(
            recog, self.align, self.trained.model, num_labels=len(vocab), vocab=vocab, cache=self.cache
        )
        hyps: dict[str, str] = {}
        for batch in forwarded.batches:
            for tag, labels in zip(batch.tags, decode(batch.scores, batch.lengths)):
                hyps[tag] = forwarded.to_text(labels)
        refs = forwarded.references
        tags = sorted(refs)
        result = word_error_rate([refs[t] for t in tags], [hyps[t] for t in tags])
        groups = score_groups(refs, hyps, recog.recog_score_groups or {})
        return RecogResult(result, hyps, refs, self.epoch, groups)


def _text_reader(vocabulary: Vocabulary | None, labels: Sequence[str]) -> Callable[[Sequence[int]], str]:
    """How labels become words: a `LexiconVocab` maps phoneme runs back to words through its lexicon; labels
    without a Vocabulary object (an HDF's stored label list) are joined by `labels_to_text`."""
    if isinstance(vocabulary, LexiconVocab):
        return vocabulary.decode
    return lambda ids: labels_to_text(ids, labels)


def score_groups(
    references: Mapping[str, str], hypotheses: Mapping[str, str], groups: Mapping[str, str]
) -> dict[str, WerResult]:
    """The WER of each group's sequences (those whose tag the group's regular expression is found in): per task or
    condition of a test set in one decoding; a group that matches no tag has a WER over 0 sequences."""
    scores = {}
    for name, pattern in groups.items():
        tags = sorted(t for t in references if re.search(pattern, t))
        scores[name] = word_error_rate([references[t] for t in tags], [hypotheses[t] for t in tags])
    return scores


def write_hypotheses(path: Path, result: RecogResult) -> None:
    """References and hypotheses, two lines per sequence, sorted by tag."""
    path.parent.mkdir(parents=True, exist_ok=True)
    refs, hyps = result.references, result.hypotheses
    path.write_text("".join(f"{t}\tref: {refs[t]}\n{t}\thyp: {hyps[t]}\n" for t in sorted(refs)))


def recognize(
    config: Config, *, dataset_name: str, epoch: int | None = None, output: Path | None = None
) -> RecogResult:
    """Decodes one dataset with the config's settings (what a pipeline's recog stage runs)."""
    recognizer = Recognizer(config, epoch)
    result = recognizer.decode(recognizer.forward(dataset_name))
    if output is not None:
        write_hypotheses(output, result)
    return result
