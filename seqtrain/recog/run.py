"""`seqtrain recog`: decode a dataset with a trained model and score it by WER."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from seqtrain.config import Config
from seqtrain.config.settings import AlignmentSettings, RecogSettings
from seqtrain.data.setup import build_data
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


def recognize(
    config: Config, *, dataset_name: str, epoch: int | None = None, output: Path | None = None
) -> RecogResult:
    recog = RecogSettings.from_config(config)
    data = build_data(config, need_train=False)
    target = recog.recog_target
    setup = data.by_name(dataset_name)
    vocab = setup.dataset.labels(target)
    if vocab is None:
        raise DataError(f"dataset {dataset_name!r} has no vocabulary for {target!r}; recog needs it to print text")
    trained = load_trained_model(config, epoch)
    align = AlignmentSettings.from_config(config)  # hybrid models: the topology they were trained in
    decode = make_decoder(recog, align, trained.model, num_labels=len(vocab), vocab=vocab)
    output_name = recog.recog_output
    hyps: dict[str, str] = {}
    refs: dict[str, str] = {}
    for batch, outputs in forward_outputs(trained, data, dataset_name, config):
        if output_name not in outputs:
            raise ConfigError(
                f"forward_step marked outputs {sorted(outputs)}, but recog decodes {output_name!r} "
                "(set recog_output or call ctx.mark_as_output(name=..., ...))"
            )
        scores, lengths = outputs[output_name]
        if lengths is None:
            raise ConfigError(f"output {output_name!r} needs lengths: ctx.mark_as_output(..., lengths=...)")
        decoded = decode(scores, lengths)
        for i, tag in enumerate(batch.seq_tags):
            hyps[tag] = labels_to_text(decoded[i], vocab)
            ref_len = int(batch.lengths[target][i])
            refs[tag] = labels_to_text(batch.data[target][i, :ref_len].tolist(), vocab)
    tags = sorted(refs)
    result = word_error_rate([refs[t] for t in tags], [hyps[t] for t in tags])
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("".join(f"{t}\tref: {refs[t]}\n{t}\thyp: {hyps[t]}\n" for t in tags))
    return RecogResult(result, hyps, refs, trained.epoch)
