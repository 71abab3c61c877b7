"""Recurrent layers: lstm, blstm, gru, bgru, and RETURNN's `rec` with `unit` and `direction`.

Sequences are packed, so padding never enters the recurrence and a backward direction starts at each
sequence's own last frame. Parameters use torch's names without the layer suffix: `weight_ih`
[gates*n_out, in], `weight_hh` [gates*n_out, n_out], `bias_ih`, `bias_hh`, and `*_reverse` for the
backward direction of a bidirectional layer (gate order as in torch: i, f, g, o for LSTM; r, z, n for
GRU). Defaults: forward_weights_init and recurrent_weights_init glorot_uniform, bias_init 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqtrain.errors import ConfigError
from seqtrain.nn.layer import Layer, require_dense_1d
from seqtrain.nn.seq import Seq, SeqInfo

_GATES = {"lstm": 4, "gru": 3}
# RETURNN (on TensorFlow 2, its current form) runs BasicLSTM and StandardLSTM as TF's LSTMCell, which adds
# forget_bias 1.0 to the forget gate at run time; every other LSTM name is its NativeLSTM2 kernel without one
# ("lstm" and "lstmp" are its default LSTM, LSTMBlock(Fused) and CudnnLSTM on CPU map to NativeLSTM2 too).
# Added at run time here as well, so it is no parameter and init stays the same.
_FORGET_BIAS = {"basiclstm": 1.0, "standardlstm": 1.0}
RETURNN_REC_UNITS: dict[str, str] = {
    "lstm": "lstm",
    "lstmp": "lstm",
    "nativelstm": "lstm",
    "nativelstm2": "lstm",
    "standardlstm": "lstm",
    "basiclstm": "lstm",
    "lstmblock": "lstm",
    "lstmblockfused": "lstm",
    "nativelstmlowmem": "lstm",
    "cudnnlstm": "lstm",
    "gru": "gru",
    "standardgru": "gru",
}
"""RETURNN's `rec` unit names (lower case; RETURNN matches them case-insensitively) -> the torch recurrence."""
UNIT_NOTES: dict[str, str] = {
    "rhn": "RETURNN's recurrent highway network cell is not implemented",
    "twodlstm": "2D LSTMs are not implemented",
    "zoneoutlstm": "zoneout LSTMs are not implemented",
    "layernormlstm": "layer-normalized LSTMs are not implemented",
    "nativelstm2_rec_weight_dropout": "recurrent weight dropout is not implemented",
}
"""RETURNN unit names that seqtrain lacks, with a note (docs/returnn.md lists them)."""


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverses each sequence [B, T, ...] within its own length; padded frames stay where they are."""
    time = torch.arange(x.shape[1])[None, :]
    lens = lengths.long()[:, None]
    index = torch.where(time < lens, lens - 1 - time, time).to(x.device)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class _Recurrent(Layer):
    unit = "lstm"
    bidirectional = False

    def __init__(self, sources: list[SeqInfo], *, n_out: int, direction: int = 1) -> None:
        super().__init__(sources)
        if direction not in (1, -1):
            raise ConfigError(f"{self.layer_class}: direction must be 1 (forward) or -1 (backward), got {direction}")
        if self.bidirectional and direction != 1:
            raise ConfigError(f"{self.layer_class}: a bidirectional layer has no 'direction'")
        in_dim = require_dense_1d(sources[0], self.layer_class)
        if not sources[0].time_axis:
            raise ConfigError(f"{self.layer_class}: needs a time axis")
        self.n_out = n_out
        self.direction = direction
        gates = _GATES[self.unit] * n_out
        for suffix in ("", "_reverse") if self.bidirectional else ("",):
            self.register_parameter("weight_ih" + suffix, nn.Parameter(torch.empty(gates, in_dim)))
            self.register_parameter("weight_hh" + suffix, nn.Parameter(torch.empty(gates, n_out)))
            self.register_parameter("bias_ih" + suffix, nn.Parameter(torch.zeros(gates)))
            self.register_parameter("bias_hh" + suffix, nn.Parameter(torch.zeros(gates)))
        self.out_info = SeqInfo.dense(n_out * (2 if self.bidirectional else 1))

    forget_bias = 0.0

    def _flat_weights(self) -> list[torch.Tensor]:
        names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        suffixes = ("", "_reverse") if self.bidirectional else ("",)
        weights = [getattr(self, n + s) for s in suffixes for n in names]
        if self.forget_bias:  # torch's gate order i, f, g, o: the second quarter of bias_ih
            offset = torch.zeros_like(self.bias_ih)
            offset[self.n_out : 2 * self.n_out] = self.forget_bias
            weights = [w + offset if i % 4 == 2 else w for i, w in enumerate(weights)]
        return weights

    def forward(self, sources: list[Seq], options: Mapping[str, Any]) -> Seq:
        x = sources[0]
        assert x.lengths is not None
        lengths = x.lengths.long().clamp(min=1).cpu()
        inp = reverse_padded(x.tensor, lengths) if self.direction == -1 else x.tensor
        packed = pack_padded_sequence(inp, lengths, batch_first=True, enforce_sorted=False)
        dirs = 2 if self.bidirectional else 1
        h0 = torch.zeros(dirs, x.batch_size, self.n_out, dtype=inp.dtype, device=inp.device)
        rnn = torch.lstm if self.unit == "lstm" else torch.gru
        hx: Any = [h0, h0] if self.unit == "lstm" else h0
        data = rnn(
            packed.data, packed.batch_sizes, hx, self._flat_weights(), True, 1, 0.0, self.training, self.bidirectional
        )[0]
        out = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        y, _ = pad_packed_sequence(out, batch_first=True, total_length=x.max_len)
        if self.direction == -1:
            y = reverse_padded(y, lengths)
        return x.replace(y)


class LstmLayer(_Recurrent):
    layer_class = "lstm"


class BlstmLayer(_Recurrent):
    """Bidirectional LSTM; `n_out` units per direction, output 2 * n_out (forward, then backward)."""

    layer_class = "blstm"
    bidirectional = True


class GruLayer(_Recurrent):
    layer_class = "gru"
    unit = "gru"


class BgruLayer(_Recurrent):
    layer_class = "bgru"
    unit = "gru"
    bidirectional = True


class RecLayer(_Recurrent):
    """RETURNN's `{"class": "rec", "unit": "nativelstm2", "direction": -1, "n_out": 512}`.

    RETURNN's LSTM kernels (NativeLstm2, LSTMBlock, BasicLSTM, ...) all compute the standard LSTM, so they are
    torch's LSTM here (with two bias vectors where RETURNN's native one has one: 4 * n_out more parameters);
    the TensorFlow cells (BasicLSTM, LSTMBlock, LSTMBlockFused) add TF's forget_bias 1.0, as they do there.
    `unroll` and `max_seq_len` change nothing when training on given sequences (RETURNN uses them for its
    TensorFlow loop and for search), `dropout` and `L2` are every layer's options (input dropout, L2 on the
    parameters); they are accepted, and so is `initial_state` "zeros" (the default). `unit_opts` may set
    `forget_bias` of BasicLSTM/StandardLSTM. A sub-network
    `unit` is built by the network (seqtrain/nn/rec_unit.py), not by this class.
    """

    layer_class = "rec"

    def __init__(
        self,
        sources: list[SeqInfo],
        *,
        n_out: int | None = None,
        unit: str | dict[str, Any] = "lstm",
        direction: int = 1,
        unroll: bool = False,
        max_seq_len: Any = None,
        unit_opts: Mapping[str, Any] | None = None,
        initial_state: Any = None,
    ) -> None:
        if isinstance(unit, dict):  # the network builds these (rec_unit.py); only reached when called directly
            raise ConfigError("rec: a sub-network 'unit' is built by the network, not by RecLayer")
        name = unit.lower() if isinstance(unit, str) else ""
        if name not in RETURNN_REC_UNITS:
            note = f" ({UNIT_NOTES[name]})" if name in UNIT_NOTES else ""
            raise ConfigError(f"rec: unit {unit!r} is not supported{note}; use one of {sorted(RETURNN_REC_UNITS)}")
        if n_out is None:
            raise ConfigError(f"rec: unit {unit!r} needs 'n_out'")
        if initial_state not in (None, 0, "zeros"):
            raise ConfigError(
                f"rec: initial_state {initial_state!r} is not supported; every sequence starts from zeros "
                "(RETURNN's states kept over batches or given by layers are not implemented)"
            )
        self.unit = RETURNN_REC_UNITS[name]
        super().__init__(sources, n_out=n_out, direction=direction)
        self.forget_bias = _forget_bias(name, dict(unit_opts or {}))


def _forget_bias(unit: str, unit_opts: dict[str, Any]) -> float:
    allowed = {"forget_bias"} if unit in _FORGET_BIAS else set()
    unknown = sorted(set(unit_opts) - allowed)
    if unknown:
        raise ConfigError(
            f"rec: unit_opts {unknown} are not supported for unit {unit!r}"
            + ("; BasicLSTM/StandardLSTM take forget_bias" if unit not in _FORGET_BIAS else "; only forget_bias")
        )
    value = unit_opts.get("forget_bias", _FORGET_BIAS.get(unit, 0.0))
    if not isinstance(value, (int, float)):
        raise ConfigError(f"rec: unit_opts forget_bias must be a number, got {value!r}")
    return float(value)


LAYERS: list[type[Layer]] = [LstmLayer, BlstmLayer, GruLayer, BgruLayer, RecLayer]
