"""Keys of recognition (`seqtrain recog`)."""

from typing import Literal

from seqtrain.config.registry import at_least, declare

G = "recog"
declare(
    "recog_decoder",
    Literal["ctc_greedy", "hmm_greedy", "hmm_viterbi", "transducer_greedy", "transducer_beam"],
    "ctc_greedy",
    "how `seqtrain recog` turns outputs into labels: CTC best path; HMM states (align_* topology) best per frame, "
    "or the Viterbi path through a loop of recog_lexicon words; transducer greedy / beam search over "
    "recog_output = encoder frames",
    group=G,
)
declare("recog_output", str, "log_probs", "name of the output marked by forward_step that recog decodes", group=G)
declare("recog_target", str, "classes", "data key with the reference labels (and the vocabulary)", group=G)
declare(
    "recog_blank_index",
    int | None,
    None,
    "CTC blank index; None = vocabulary size (blank after the labels)",
    group=G,
    check=at_least(0),
)
declare(
    "recog_transducer",
    str | None,
    None,
    "transducer decoders: the net-dict layer with the prediction net and joint; None = the model itself (get_model)",
    group=G,
)
declare("recog_beam_size", int, 4, "transducer_beam: hypotheses kept per frame", group=G, check=at_least(1))
declare(
    "recog_max_symbols_per_frame",
    int,
    3,
    "transducer decoders: labels emitted per frame at most",
    group=G,
    check=at_least(1),
)
declare(
    "recog_lexicon",
    list[str] | str | None,
    None,
    "hmm_viterbi: the words to recognize (a list, or a file with one word per line), spelled with the target "
    "vocabulary; None = any sequence of labels",
    group=G,
)
declare(
    "recog_word_penalty",
    float,
    0.0,
    "hmm_viterbi: subtracted from the log score per word (per label without a lexicon); raise it against insertions",
    group=G,
)
declare(
    "recog_prior_file",
    str | None,
    None,
    "hmm_greedy / hmm_viterbi: class prior to divide by (hybrid decoding): a text file of log priors, or an "
    "alignment HDF (seqtrain align) whose class frequencies are the prior",
    group=G,
)
declare(
    "recog_prior_scale",
    float,
    1.0,
    "hmm decoders: log prior scale (tune, typically 0.3 to 1.0; 0 = no prior)",
    group=G,
    check=at_least(0),
)
declare(
    "output_file",
    str | None,
    None,
    "`seqtrain forward`: the HDF file the model outputs are written to (RETURNN's forward task); --output-hdf wins",
    group=G,
    returnn=True,
)
declare(
    "forward_batch_size",
    int | None,
    None,
    "`seqtrain forward`: padded frames per batch; None = batch_size (RETURNN's key)",
    group=G,
    check=at_least(1),
    returnn=True,
)
