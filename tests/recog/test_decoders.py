"""Decoders of `seqtrain recog`: HMM states per frame -> labels; finding the transducer to decode with."""

from __future__ import annotations

import pytest
import torch

from seqtrain.config import Config
from seqtrain.config.settings import AlignmentSettings, RecogSettings
from seqtrain.errors import ConfigError
from seqtrain.hmm.topology import HmmTopology
from seqtrain.recog.decoders import find_transducer, hmm_greedy_decode, make_decoder
from seqtrain.recog.transducer import transducer_beam_search, transducer_greedy_decode
from tests.nn.helpers import build, make_builder


def _settings(config: Config) -> tuple[RecogSettings, AlignmentSettings]:
    return RecogSettings.from_config(config), AlignmentSettings.from_config(config)


def _one_hot(classes: list[int], num_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(classes), num_classes).float()[None]


def test_hmm_greedy_collapses_states_and_separates_repeated_labels() -> None:
    topology = HmmTopology(num_labels=3, states_per_label=2)  # label l: classes 2l, 2l+1; silence: 6
    frames = [6, 0, 0, 1, 2, 3, 2, 3, 3, 6, 4, 5, 5, 6, 4]
    # a(0 0 1) b(2 3) b again (back to state 0) silence c(4 5 5) silence c: a new c after silence
    scores = _one_hot(frames, 7)
    assert hmm_greedy_decode(scores, torch.tensor([len(frames)]), topology) == [[0, 1, 1, 2, 2]]
    assert hmm_greedy_decode(scores, torch.tensor([4]), topology) == [[0]]  # only the valid frames count


def test_hmm_decoder_uses_the_align_topology() -> None:
    config = Config.from_dict({"recog_decoder": "hmm_greedy", "align_states_per_label": 2})
    decode = make_decoder(*_settings(config), torch.nn.Linear(1, 1), num_labels=3, vocab=None)
    assert decode(_one_hot([6, 0, 1, 6], 7), torch.tensor([4])) == [[0]]
    with pytest.raises(ConfigError, match="the output has 5 classes per frame, the align_\\* topology has 7"):
        decode(torch.zeros(1, 2, 5), torch.tensor([2]))


NET = {
    "encoder": {"class": "blstm", "from": "data", "n_out": 3, "is_output_layer": True},
    "tr": {"class": "transducer", "from": ["encoder", "data:classes"], "n_out": 6, "pred_dim": 4, "joint_dim": 5},
}


def test_transducer_decoders_use_the_named_layer() -> None:
    model = build(make_builder(NET))
    with pytest.raises(ConfigError, match="recog_transducer 'joint' is not a layer"):
        find_transducer(model, "joint")
    with pytest.raises(ConfigError, match="layer 'encoder' is no transducer"):
        find_transducer(model, "encoder")
    with pytest.raises(ConfigError, match="the model \\(Network\\) is no transducer"):
        find_transducer(model, None)
    frames = torch.randn(2, 5, 6, generator=torch.Generator().manual_seed(3))
    lengths = torch.tensor([5, 3])
    config = Config.from_dict({"recog_decoder": "transducer_greedy", "recog_transducer": "tr"})
    greedy = make_decoder(*_settings(config), model, num_labels=5, vocab=None)
    expected = transducer_greedy_decode(model.layer("tr"), frames, lengths, blank=5, max_symbols_per_frame=3)
    assert greedy(frames, lengths) == [h.labels for h in expected]
    beam_config = config.with_values({"recog_decoder": "transducer_beam", "recog_beam_size": 2})
    beam = make_decoder(*_settings(beam_config), model, num_labels=5, vocab=None)
    best = transducer_beam_search(model.layer("tr"), frames, lengths, blank=5, beam_size=2, max_symbols_per_frame=3)
    assert beam(frames, lengths) == [hyps[0].labels for hyps in best]
