"""Keys of recognition (`seqtrain recog`)."""

from typing import Literal

from seqtrain.config.registry import declare

G = "recog"
declare("recog_decoder", Literal["ctc_greedy"], "ctc_greedy", "how `seqtrain recog` turns outputs into labels", group=G)
declare("recog_output", str, "log_probs", "name of the output marked by forward_step that recog decodes", group=G)
declare("recog_target", str, "classes", "data key with the reference labels (and the vocabulary)", group=G)
declare("recog_blank_index", int | None, None, "CTC blank index; None = vocabulary size (blank after the labels)",
        group=G)
