"""The alignment settings of a run in the algorithms' terms, and the aligner they define.

The `align_*` keys arrive checked and typed (`AlignmentSettings`, their ranges are declared with the keys);
here they are checked against the target vocabulary and handed as plain values to the algorithms
(`ctc_align`, `hmm_viterbi`, `linear`), which never see the config.
One `Aligner` then aligns batch after batch in the chosen mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqtrain.config.settings import AlignmentSettings
from seqtrain.errors import ConfigError
from seqtrain.hmm.ctc_align import ctc_forced_align
from seqtrain.hmm.graph import Alignment, TransitionScores
from seqtrain.hmm.linear import linear_align
from seqtrain.hmm.topology import HmmTopology
from seqtrain.hmm.viterbi import viterbi_align


@dataclass(frozen=True)
class AlignSettings:
    """The `align_*` keys as plain values (`mode` may come from the command line instead)."""

    mode: str
    output_name: str
    target_key: str
    output_key: str
    blank_index: int | None
    states_per_label: int
    silence: bool
    silence_index: int | None
    word_separator: int | str | None
    optional_silence: bool
    skip_within_label: bool
    transitions: TransitionScores
    silence_weight: float
    frame_subsampling: int
    skip_infeasible: bool

    @classmethod
    def from_settings(cls, align: AlignmentSettings, *, mode: str | None = None) -> AlignSettings:
        return cls(
            mode=mode or align.align_mode,
            output_name=align.align_output,
            target_key=align.align_target,
            output_key=align.align_output_key,
            blank_index=align.align_blank_index,
            states_per_label=align.align_states_per_label,
            silence=align.align_silence,
            silence_index=align.align_silence_index,
            word_separator=align.align_word_separator,
            optional_silence=align.align_optional_silence,
            skip_within_label=align.align_skip_within_label,
            transitions=TransitionScores(**{k: float(v) for k, v in (align.align_transition_scores or {}).items()}),
            silence_weight=float(align.align_silence_weight),
            frame_subsampling=align.align_frame_subsampling,
            skip_infeasible=align.align_skip_infeasible,
        )


class Aligner:
    """Aligns padded batches in one mode; knows the classes it writes and what the model must output."""

    def __init__(self, settings: AlignSettings, *, num_labels: int, vocab: Sequence[str] | None) -> None:
        self.settings = settings
        self.num_labels = num_labels
        self.vocab = list(vocab) if vocab is not None else None
        self.topology: HmmTopology | None = None
        if settings.mode == "ctc":
            self.blank = num_labels if settings.blank_index is None else settings.blank_index
            if self.blank < 0:
                raise ConfigError(f"align_blank_index must be >= 0, got {self.blank}")
            self.num_classes = max(num_labels, self.blank + 1)
            self.pad_class = self.blank
        elif settings.mode in ("hmm", "linear"):
            self.topology = self._topology()
            self.num_classes = self.topology.num_classes
            self.pad_class = self.topology.silence_index if self.topology.uses_silence else 0
        else:
            raise ConfigError(f"align mode must be 'ctc', 'hmm' or 'linear', got {settings.mode!r}")

    def _topology(self) -> HmmTopology:
        s = self.settings
        separator = s.word_separator
        if isinstance(separator, str):
            if self.vocab is None or separator not in self.vocab:
                raise ConfigError(
                    f"align_word_separator {separator!r} is not a label of {s.target_key!r}"
                    + (
                        f" (labels: {self.vocab[:10]}...)"
                        if self.vocab
                        else " (the data has no vocabulary: give an index)"
                    )
                )
            separator = self.vocab.index(separator)
        try:
            return HmmTopology(
                num_labels=self.num_labels,
                states_per_label=s.states_per_label,
                silence=s.silence,
                silence_class=s.silence_index,
                word_separator=separator,
                optional_silence=s.optional_silence,
                skip_within_label=s.skip_within_label,
            )
        except ValueError as e:
            raise ConfigError(f"align_* keys: {e}") from e

    @property
    def needs_model_scores(self) -> bool:
        return self.settings.mode != "linear"

    def class_names(self) -> list[str]:
        """Names of the written classes, stored in the HDF as the vocabulary of the alignment."""
        if self.topology is not None:
            return self.topology.class_names(self.vocab)
        names = [self.vocab[i] if self.vocab and i < len(self.vocab) else str(i) for i in range(self.num_classes)]
        names[self.blank] = "<blank>"
        return names

    def align(
        self,
        frame_scores: torch.Tensor | None,
        frame_lengths: torch.Tensor,
        labels: torch.Tensor,
        label_lengths: torch.Tensor,
    ) -> Alignment:
        """`frame_scores` [B, T, num_classes] (None for linear), labels [B, U] -> the batch's alignment."""
        if self.settings.mode == "ctc":
            assert frame_scores is not None
            return ctc_forced_align(frame_scores, frame_lengths, labels, label_lengths, blank=self.blank)
        assert self.topology is not None
        graph, silence = self.topology.graph(labels.cpu(), label_lengths.cpu())
        if self.settings.mode == "hmm":
            assert frame_scores is not None
            return viterbi_align(
                frame_scores, frame_lengths, graph, transitions=self.settings.transitions, pad_class=self.pad_class
            )
        return linear_align(
            graph,
            frame_lengths.cpu(),
            silence=silence,
            silence_weight=self.settings.silence_weight,
            pad_class=self.pad_class,
        )
