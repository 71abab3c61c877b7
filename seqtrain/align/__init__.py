"""Frame-level alignments: linear, Viterbi through HMM state graphs, CTC forced alignment, dumping to HDF."""
