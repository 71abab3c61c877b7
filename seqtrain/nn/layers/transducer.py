"""A transducer (RNN-T) in a net dict: prediction net + joint network on top of any encoder layer.

    "transducer": {"class": "transducer", "from": ["encoder", "data:classes"], "n_out": 28,
                   "loss": rnnt_full_sum_loss, "target": "classes"}
    "transducer": {"class": "transducer", "from": ["encoder", "data:align"], "n_out": 28, "alignment": True,
                   "loss": rnnt_alignment_ce_loss, "target": "align"}

Sources: the encoder frames [B, T, E], then labels. Without `alignment` they are the label sequence
[B, U] and the output is the joint's logits over the whole T x (U+1) lattice [B, T, U+1, n_out], for
the full-sum loss. With `alignment: True` they are a frame-level alignment [B, T] (a label or blank per
frame, as `seqtrain align --mode ctc` writes it): the layer turns it into one lattice path
(`seqtrain.nn.rnnt_path`) and outputs the joint's logits only at its T + U nodes [B, T+U, n_out],
for frame-wise CE: much cheaper than the lattice. Both settings have the same parameters, so a
pipeline can train CE on an alignment first and then the full sum, carrying every parameter over.

The blank (`blank_index`, default the last output) is also the prediction net's start symbol. The layer
implements `seqtrain.recog.transducer.Transducer`, so `seqtrain recog` decodes with it
(`recog_decoder = "transducer_greedy"` or `"transducer_beam"`, `recog_transducer = <layer name>`,
`recog_output` = the encoder layer marked with `is_output_layer: True`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from seqtrain.errors import ConfigError, DataError
from seqtrain.nn.layer import Layer, activation_fn, require_dense_1d
from seqtrain.nn.rnnt_loss import rnnt_loss
from seqtrain.nn.rnnt_path import path_cross_entropy, rnnt_path_from_frame_labels
from seqtrain.nn.seq import Seq, SeqInfo


class TransducerLayer(Layer):
    layer_class = "transducer"
    concat_sources = False
    allow_sparse_sources = True
    same_length_sources = False

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        n_out: int,
        blank_index: int | None = None,
        embed_dim: int = 128,
        pred_dim: int = 256,
        pred_layers: int = 1,
        joint_dim: int = 256,
        joint_activation: str = "tanh",
        alignment: bool = False,
    ) -> None:
        super().__init__(sources)
        if len(sources) != 2 or not sources[1].sparse:
            raise ConfigError("transducer: 'from' must be [encoder layer, sparse labels or alignment]")
        encoder_dim = require_dense_1d(sources[0], self.layer_class)
        if sources[1].dim > n_out:
            raise ConfigError(f"transducer: the labels have {sources[1].dim} classes, n_out is only {n_out}")
        self.n_out = n_out
        self.blank = n_out - 1 if blank_index is None else blank_index
        if not 0 <= self.blank < n_out:
            raise ConfigError(f"transducer: blank_index {blank_index} is not in [0, {n_out})")
        self.alignment = alignment
        self.embedding = nn.Embedding(n_out, embed_dim)
        self.prediction = nn.LSTM(embed_dim, pred_dim, num_layers=pred_layers, batch_first=True)
        self.joint_encoder = nn.Linear(encoder_dim, joint_dim)
        self.joint_prediction = nn.Linear(pred_dim, joint_dim, bias=False)
        self.joint_output = nn.Linear(joint_dim, n_out)
        self._activation = activation_fn(joint_activation, self.layer_class)
        self.out_info = SeqInfo.dense(n_out)

    # ------------------------------------------------------------------ Transducer protocol (decoding)

    def initial_prediction_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        weight = self.embedding.weight
        shape = (batch_size, self.prediction.num_layers, self.prediction.hidden_size)
        zeros = torch.zeros(shape, dtype=weight.dtype, device=weight.device)
        return zeros, zeros.clone()

    def predict(
        self, labels: torch.Tensor, state: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h, c = (s.transpose(0, 1).contiguous() for s in state)
        out, (h, c) = self.prediction(self.embedding(labels.long())[:, None], (h, c))
        return out[:, 0], (h.transpose(0, 1), c.transpose(0, 1))

    def joint(self, encoder_frames: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        return self.joint_output(
            self._activation(self.joint_encoder(encoder_frames) + self.joint_prediction(prediction))
        )

    # ------------------------------------------------------------------ training

    def prediction_sequence(self, labels: torch.Tensor) -> torch.Tensor:
        """Prediction outputs [B, U+1, P] after the start symbol and each label (padding does not matter:
        the net is unidirectional, so outputs at valid positions never see it)."""
        start = torch.full((labels.shape[0], 1), self.blank, dtype=torch.long, device=labels.device)
        out, _ = self.prediction(self.embedding(torch.cat([start, labels.long()], dim=1)))
        return out

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        encoder, labels = sources
        assert encoder.lengths is not None and labels.lengths is not None
        if not self.alignment:
            prediction = self.prediction_sequence(labels.tensor.clamp(min=0))
            hidden = self.joint_encoder(encoder.tensor)[:, :, None] + self.joint_prediction(prediction)[:, None]
            return Seq(self.joint_output(self._activation(hidden)), encoder.lengths)
        if not torch.equal(labels.lengths.long(), encoder.lengths.long()):
            raise DataError(
                "transducer with alignment=True: the alignment must have one label per encoder frame, but the lengths "
                f"differ (encoder {encoder.lengths.tolist()[:4]}..., alignment {labels.lengths.tolist()[:4]}...); "
                "align with the encoder (frame rate) the transducer uses"
            )
        path = rnnt_path_from_frame_labels(labels.tensor.to(encoder.tensor.device), labels.lengths, blank=self.blank)
        prediction = self.prediction_sequence(path.labels)
        frames = encoder.tensor.gather(1, path.frame_index[..., None].expand(-1, -1, encoder.tensor.shape[-1]))
        predicted = prediction.gather(1, path.label_position[..., None].expand(-1, -1, prediction.shape[-1]))
        return Seq(self.joint(frames, predicted), path.step_lengths.cpu())


def rnnt_full_sum_loss(
    *, output: Seq, target: Seq, blank_index: int = -1, clamp: float = -1.0
) -> tuple[torch.Tensor, float]:
    """Full-sum RNN-T loss of a `transducer` layer's lattice output; reported per target label (as CTC)."""
    assert output.lengths is not None and target.lengths is not None
    loss = rnnt_loss(
        output.tensor.float(),
        target.tensor.long(),
        output.lengths.to(output.tensor.device),
        target.lengths.to(output.tensor.device),
        blank=blank_index,
        reduction="none",
        clamp=clamp,
    )
    return loss, float(target.lengths.sum())


def rnnt_alignment_ce_loss(*, output: Seq, target: Seq, blank_index: int = -1) -> tuple[torch.Tensor, float]:
    """CE of a `transducer` layer with alignment=True along its path; reported per path step (frames + labels)."""
    assert target.lengths is not None
    vocab = output.tensor.shape[-1]
    blank = blank_index + vocab if blank_index < 0 else blank_index
    path = rnnt_path_from_frame_labels(target.tensor.to(output.tensor.device), target.lengths, blank=blank)
    ce = path_cross_entropy(output.tensor.float(), path)
    return ce, float(path.step_lengths.sum())


LAYERS: list[type[Layer]] = [TransducerLayer]
