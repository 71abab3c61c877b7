"""Keys of recognition (`seqtrain recog`)."""

import re
from typing import Any, Literal

from seqtrain.config.registry import at_least, declare, greater_than

G = "recog"
declare(
    "recog_decoder",
    Literal["ctc_greedy", "ctc_beam", "hmm_greedy", "hmm_viterbi", "transducer_greedy", "transducer_beam"],
    "ctc_greedy",
    "how `seqtrain recog` turns outputs into labels: CTC best path; CTC beam search over recog_lexicon words with "
    "the word n-gram LM recog_lm; HMM states (align_* topology) best per frame, or the Viterbi path through a loop "
    "of recog_lexicon words; transducer greedy / beam search over recog_output = encoder frames",
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
declare(
    "recog_beam_size",
    int | None,
    None,
    "transducer_beam / ctc_beam: hypotheses kept per frame; None = 4 (transducer_beam), 50 (ctc_beam)",
    group=G,
    check=at_least(1),
)
declare(
    "recog_beam_threshold",
    float,
    25.0,
    "ctc_beam: hypotheses whose log score is more than this below the frame's best are pruned",
    group=G,
    check=greater_than(0),
)
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
    "hmm_viterbi / ctc_beam: the words to recognize (a list, or a file with one word per line), spelled with the "
    "target vocabulary; a file line `WORD UNIT UNIT ...` gives a pronunciation instead (phoneme models, the "
    "LexiconVocab of the same file; a word may have several lines); None = any sequence of labels (hmm_viterbi; "
    "ctc_beam needs a lexicon)",
    group=G,
)
declare(
    "recog_word_penalty",
    float,
    0.0,
    "hmm_viterbi / ctc_beam: subtracted from the log score per word (hmm_viterbi without a lexicon: per label); "
    "raise it against insertions, lower it (negative = a bonus per word) against deletions, e.g. those an LM causes",
    group=G,
)
declare(
    "recog_lm",
    str | None,
    None,
    "ctc_beam: word n-gram LM for shallow fusion, an ARPA file or KenLM binary (`seqtrain lm` builds one); "
    "None = no LM (beam search constrained to recog_lexicon words)",
    group=G,
)
declare(
    "recog_lm_weight",
    float,
    0.5,
    "ctc_beam: LM scale: log p(am) + recog_lm_weight * ln p(lm) - recog_word_penalty * words; tune it on dev "
    "(`seqtrain recog --tune recog_lm_weight=0,0.5,1`)",
    group=G,
    check=at_least(0),
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


def _regular_expressions(groups: Any) -> str | None:
    """A `check`: every value of the dict compiles as a regular expression."""
    for name, pattern in (groups or {}).items():
        try:
            re.compile(pattern)
        except re.error as e:
            return f"group {name!r}: {pattern!r} is not a regular expression ({e})"
    return None


declare(
    "recog_score_groups",
    dict[str, str] | None,
    None,
    "`seqtrain recog`: also the WER of subsets of a dataset, name -> regular expression searched in each sequence "
    "tag, e.g. {'digits': '-digits-', 'sentences': '-sentences-'}; printed after the dataset's WER",
    group=G,
    check=_regular_expressions,
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
    "model_average_epochs",
    int,
    1,
    "recog, forward, align: use the mean of the parameters of this many finished epochs ending at the chosen "
    "one (checkpoint averaging, as ESPnet's average_nbest_models / icefall's --avg); 1 = that epoch alone",
    group=G,
    check=at_least(1),
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
