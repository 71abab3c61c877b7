"""Frame-level alignments written to HDF files, and how much they changed."""
