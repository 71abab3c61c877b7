"""HMM state graphs and the algorithms on them, shared by alignment and recognition: topologies, Viterbi,
CTC forced alignment, linear alignment, and the aligner that picks among them."""
