"""Keys of recognition (`seqtrain recog`)."""

from typing import Literal

from seqtrain.config.registry import declare

G = "recog"
declare(
    "recog_decoder",
    Literal["ctc_greedy", "hmm_greedy", "transducer_greedy", "transducer_beam"],
    "ctc_greedy",
    "how `seqtrain recog` turns outputs into labels: CTC best path; HMM states (align_* topology) best per frame; "
    "transducer greedy / beam search over recog_output = encoder frames",
    group=G,
)
declare("recog_output", str, "log_probs", "name of the output marked by forward_step that recog decodes", group=G)
declare("recog_target", str, "classes", "data key with the reference labels (and the vocabulary)", group=G)
declare(
    "recog_blank_index", int | None, None, "CTC blank index; None = vocabulary size (blank after the labels)", group=G
)
declare(
    "recog_transducer",
    str | None,
    None,
    "transducer decoders: the net-dict layer with the prediction net and joint; None = the model itself (get_model)",
    group=G,
)
declare("recog_beam_size", int, 4, "transducer_beam: hypotheses kept per frame", group=G)
declare("recog_max_symbols_per_frame", int, 3, "transducer decoders: labels emitted per frame at most", group=G)
