"""The decoders `seqtrain recog` can use (`recog_decoder`): outputs of a batch -> label sequences.

- ctc_greedy: best class per frame, repeats merged, blanks removed (`recog_output`: log-probs).
- hmm_greedy: best HMM state per frame of a frame-wise (CE-trained) model, in the topology the `align_*`
  keys describe (the one it was trained on): a label starts where a frame enters one of its states from
  another label or silence, or from a later state of the same label (the next occurrence, e.g. "ll");
  silence emits nothing (`recog_output`: per-frame scores over the state classes).
- hmm_viterbi: the best path through a loop of the words of `recog_lexicon` (of single labels without one)
  in that topology, `recog_word_penalty` per word (`seqtrain.recog.word_loop`; `recog_output`: log-probs).
  Both HMM decoders divide by the class prior of `recog_prior_file` when given (`seqtrain.recog.prior`).
- ctc_beam: beam search over the words of `recog_lexicon` with the word n-gram LM `recog_lm` (shallow fusion,
  `recog_lm_weight`, `recog_word_penalty`), by flashlight's lexicon decoder (`seqtrain.recog.ctc_lm`;
  `recog_output`: log-probs).
- transducer_greedy / transducer_beam: `seqtrain.recog.transducer` over the encoder frames
  (`recog_output`), with the model's prediction net and joint: the net-dict layer `recog_transducer`,
  or the model itself (get_model) when it implements the `Transducer` protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from seqtrain.config.settings import AlignmentSettings, RecogSettings
from seqtrain.errors import ConfigError
from seqtrain.hmm.aligner import Aligner, AlignSettings
from seqtrain.hmm.topology import HmmTopology
from seqtrain.recog.ctc import ctc_greedy_decode
from seqtrain.recog.ctc_lm import LexiconSearch, SearchOptions
from seqtrain.recog.lexicon import spell_lexicon_entries
from seqtrain.recog.prior import load_log_prior
from seqtrain.recog.transducer import Transducer, transducer_beam_search, transducer_greedy_decode
from seqtrain.recog.word_loop import build_word_loop, hmm_viterbi_decode
from seqtrain.registry import Registry

Decoder = Callable[[torch.Tensor, torch.Tensor], list[list[int]]]  # (outputs [B, T, ...], lengths [B]) -> labels

_PROTOCOL = ("initial_prediction_state", "predict", "joint")
# recog_beam_size None: a transducer beam holds label sequences, a few suffice; flashlight's CTC beam holds
# (trie node, LM state) pairs, many for each word prefix (50 is torchaudio's default)
TRANSDUCER_BEAM_SIZE = 4
CTC_BEAM_SIZE = 50


def hmm_greedy_decode(scores: torch.Tensor, lengths: torch.Tensor, topology: HmmTopology) -> list[list[int]]:
    """`scores` [B, T, topology.num_classes] -> the label sequence of the best state of each frame."""
    best = scores.argmax(dim=-1).cpu()
    states = topology.states_per_label
    silence = topology.silence_index if topology.uses_silence else -1
    result = []
    for b in range(best.shape[0]):
        labels: list[int] = []
        previous: tuple[int, int] | None = None  # (label, state) of the previous frame; None = silence/start
        for c in best[b, : int(lengths[b])].tolist():
            if c == silence:
                previous = None
                continue
            label, state = divmod(c, states)
            if previous is None or previous[0] != label or state < previous[1]:
                labels.append(label)
            previous = (label, state)
        result.append(labels)
    return result


def _is_transducer(obj: object) -> bool:
    return all(callable(getattr(obj, name, None)) for name in _PROTOCOL)


def find_transducer(model: torch.nn.Module, layer: str | None) -> Transducer:
    """The object with the prediction net and joint: a net-dict layer by name, or the model itself."""
    inner = getattr(model, "module", model)
    if layer is not None:
        modules = dict(inner.named_children())
        if layer not in modules:
            raise ConfigError(f"recog_transducer {layer!r} is not a layer of the network (layers: {sorted(modules)})")
        candidate: object = modules[layer]
    else:
        candidate = inner
    if not _is_transducer(candidate):
        what = f"layer {layer!r}" if layer is not None else f"the model ({type(inner).__name__})"
        raise ConfigError(
            f"{what} is no transducer: it needs {', '.join(_PROTOCOL)} (seqtrain.recog.transducer.Transducer); "
            "set recog_transducer to the net-dict layer that has them"
        )
    return candidate  # type: ignore[return-value]


def hmm_topology(hmm: AlignSettings, *, num_labels: int, vocab: Sequence[str] | None) -> HmmTopology:
    """The HMM topology the `align_*` keys define (hybrid models are decoded in the one they were trained with)."""
    aligner = Aligner(hmm, num_labels=num_labels, vocab=vocab)
    assert aligner.topology is not None
    return aligner.topology


@dataclass(frozen=True)
class DecoderInput:
    """What a decoder factory may use: the recog_* settings, the align_* topology settings (hmm decoders), the
    model, the label set and the blank. `cache` keeps what is costly to build (a lexicon search) across the decoders
    of one `seqtrain recog --tune` run; a factory keys its entries by everything they were built from."""

    recog: RecogSettings
    hmm: AlignSettings
    model: torch.nn.Module
    num_labels: int
    vocab: Sequence[str] | None
    blank: int
    cache: dict[object, object] = field(default_factory=dict)


# `recog_decoder` names a factory (DecoderInput -> Decoder); a new decoder is a function registered here and its
# name added to the key's choices (seqtrain/config/keys/recog.py).
DECODERS: Registry[Callable[[DecoderInput], Decoder]] = Registry("decoder")


def make_decoder(
    recog: RecogSettings,
    align: AlignmentSettings,
    model: torch.nn.Module,
    *,
    num_labels: int,
    vocab: Sequence[str] | None,
    cache: dict[object, object] | None = None,
) -> Decoder:
    """The configured decoder; `num_labels` = the target vocabulary size (the blank defaults to it). Pass the same
    `cache` to decoders that differ only in their options (tuning) to build a lexicon search once."""
    blank = recog.recog_blank_index
    factory = DECODERS.get(recog.recog_decoder, where="recog_decoder")
    hmm = AlignSettings.from_settings(align, mode="hmm")
    blank = num_labels if blank is None else blank
    return factory(DecoderInput(recog, hmm, model, num_labels, vocab, blank, {} if cache is None else cache))


@DECODERS.register("ctc_greedy")
def _ctc_greedy(inp: DecoderInput) -> Decoder:
    return lambda scores, lengths: ctc_greedy_decode(scores, lengths, blank=inp.blank)


@DECODERS.register("ctc_beam")
def _ctc_beam(inp: DecoderInput) -> Decoder:
    recog = inp.recog
    if recog.recog_lexicon is None:
        raise ConfigError("ctc_beam needs recog_lexicon: the words to recognize (e.g. those of the training text)")
    if inp.vocab is None:
        raise ConfigError("recog_lexicon needs the target vocabulary to spell its words; the dataset has none")
    lexicon = recog.recog_lexicon
    key = ("ctc_beam", lexicon if isinstance(lexicon, str) else tuple(lexicon), recog.recog_lm, *inp.vocab, inp.blank)
    search = inp.cache.get(key)
    if not isinstance(search, LexiconSearch):
        search = LexiconSearch(lexicon, inp.vocab, blank=inp.blank, lm_path=recog.recog_lm)
        inp.cache[key] = search
    options = SearchOptions(
        lm_weight=recog.recog_lm_weight,
        word_penalty=recog.recog_word_penalty,
        beam_size=CTC_BEAM_SIZE if recog.recog_beam_size is None else recog.recog_beam_size,
        beam_threshold=recog.recog_beam_threshold,
    )
    return lambda scores, lengths: search.decode(scores, lengths, options)


@DECODERS.register("hmm_greedy")
def _hmm_greedy(inp: DecoderInput) -> Decoder:
    topology = hmm_topology(inp.hmm, num_labels=inp.num_labels, vocab=inp.vocab)
    likelihoods = _hybrid_scores(inp.recog, topology, "hmm_greedy")
    return lambda scores, lengths: hmm_greedy_decode(likelihoods(scores), lengths, topology)


@DECODERS.register("hmm_viterbi")
def _hmm_viterbi(inp: DecoderInput) -> Decoder:
    topology = hmm_topology(inp.hmm, num_labels=inp.num_labels, vocab=inp.vocab)
    lexicon = inp.recog.recog_lexicon
    words = None
    if lexicon is not None:
        if inp.vocab is None:
            raise ConfigError("recog_lexicon needs the target vocabulary to spell its words; the dataset has none")
        spelled = spell_lexicon_entries(lexicon, inp.vocab)
        words = [spelling for variants in spelled.spellings for spelling in variants]  # a unit per pronunciation
    loop = build_word_loop(topology, words, word_penalty=inp.recog.recog_word_penalty, transitions=inp.hmm.transitions)
    likelihoods = _hybrid_scores(inp.recog, topology, "hmm_viterbi")
    return lambda scores, lengths: hmm_viterbi_decode(likelihoods(scores), lengths, loop)


@DECODERS.register("transducer_greedy")
def _transducer_greedy(inp: DecoderInput) -> Decoder:
    transducer = find_transducer(inp.model, inp.recog.recog_transducer)
    max_symbols = inp.recog.recog_max_symbols_per_frame
    return lambda frames, lengths: [
        h.labels
        for h in transducer_greedy_decode(
            transducer, frames, lengths, blank=inp.blank, max_symbols_per_frame=max_symbols
        )
    ]


@DECODERS.register("transducer_beam")
def _transducer_beam(inp: DecoderInput) -> Decoder:
    transducer = find_transducer(inp.model, inp.recog.recog_transducer)
    max_symbols, beam = inp.recog.recog_max_symbols_per_frame, inp.recog.recog_beam_size or TRANSDUCER_BEAM_SIZE
    return lambda frames, lengths: [
        hyps[0].labels
        for hyps in transducer_beam_search(
            transducer, frames, lengths, blank=inp.blank, beam_size=beam, max_symbols_per_frame=max_symbols
        )
    ]


def _hybrid_scores(recog: RecogSettings, topology: HmmTopology, decoder: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Checks the model's log-probs against the topology and divides by the prior (`seqtrain.recog.prior`)."""
    prior_file, scale = recog.recog_prior_file, recog.recog_prior_scale  # scale >= 0: checked with the key
    if prior_file is None:
        return lambda scores: _check_classes(scores, topology, decoder)
    scaled_prior = scale * load_log_prior(prior_file, topology.num_classes)
    return lambda scores: _check_classes(scores, topology, decoder) - scaled_prior.to(scores.device)


def _check_classes(scores: torch.Tensor, topology: HmmTopology, decoder: str) -> torch.Tensor:
    if scores.shape[-1] != topology.num_classes:
        raise ConfigError(
            f"{decoder}: the output has {scores.shape[-1]} classes per frame, the align_* topology has "
            f"{topology.num_classes} ({topology.num_labels} labels x {topology.states_per_label} states"
            f"{' + silence' if topology.uses_silence else ''}); set the align_* keys the model was trained with"
        )
    return scores
