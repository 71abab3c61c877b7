"""Keys of alignment (`seqtrain align`): which output to align, against which targets, in which topology."""

from typing import Literal

from seqtrain.config.registry import at_least, declare, greater_than, keys_among

G = "align"
declare(
    "align_mode",
    Literal["ctc", "hmm", "linear"],
    "ctc",
    "ctc = CTC forced alignment, hmm = Viterbi through HMM states, linear = states spread evenly (no model needed)",
    group=G,
)
declare("align_output", str, "log_probs", "forward_step output with per-frame log-probs [B, T, classes]", group=G)
declare("align_target", str, "classes", "data key with the label sequences to align", group=G)
declare(
    "align_output_key",
    str,
    "classes",
    "data key of the alignment in the written HDF ('data' writes RETURNN's 'inputs')",
    group=G,
)
declare(
    "align_blank_index",
    int | None,
    None,
    "CTC blank index; None = number of labels (blank after the labels)",
    group=G,
    check=at_least(0),
)
declare(
    "align_states_per_label",
    int,
    1,
    "HMM states per label (hmm, linear): label l has classes l*S .. l*S+S-1",
    group=G,
    check=at_least(1),
)
declare("align_silence", bool, True, "HMM silence state at the start and end of each sequence (hmm, linear)", group=G)
declare(
    "align_silence_index",
    int | None,
    None,
    "class of the silence state; None = the class after all label states",
    group=G,
)
declare(
    "align_word_separator",
    int | str | None,
    None,
    "label (index or symbol, e.g. ' ') after which a silence state is inserted; None = no silence between words",
    group=G,
)
declare("align_optional_silence", bool, True, "silence states may be skipped by the Viterbi path", group=G)
declare(
    "align_skip_within_label",
    bool,
    False,
    "Viterbi may jump over a label's states except its last (a label can be shorter than its state count)",
    group=G,
)
declare(
    "align_transition_scores",
    dict[str, float] | None,
    None,
    "log-domain scores per frame step, {'loop': ..., 'forward': ..., 'skip': ...}; None = all 0 (as CTC)",
    group=G,
    check=keys_among(("loop", "forward", "skip")),
)
declare(
    "align_silence_weight",
    float,
    1.0,
    "linear alignment: frames of a silence state relative to a label state",
    group=G,
    check=greater_than(0),
)
declare(
    "align_frame_subsampling",
    int,
    1,
    "linear alignment without a model: alignment frames = input frames // this",
    group=G,
    check=at_least(1),
)
declare(
    "align_skip_infeasible",
    bool,
    False,
    "leave out (and log) sequences too short for their labels instead of stopping with an error",
    group=G,
)
