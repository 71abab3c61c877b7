"""Neural-network building blocks: layers, losses (CTC, RNN-T, ...), initialization."""
