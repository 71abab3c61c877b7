"""Multi-stage runs: training stages with align/recog/custom actions between them, run exactly once."""
