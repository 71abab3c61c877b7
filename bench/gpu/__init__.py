"""GPU benchmark: seqtrain against a plain PyTorch loop on the available device, in float32, bfloat16 and float16
AMP, eager and compiled; with N visible GPUs also seqtrain in 1 vs N processes.

    python -m bench.gpu                         # the default plan for this device (below), one JSON line per setting
    python -m bench.gpu --quick                 # tiny size: does everything work? (the test runs this on CPU)
    python -m bench.gpu --model conformer --precisions float32,bfloat16 --compile-modes off,on --pairs 2

Models (`models.py`): the anchor's 2x256 BLSTM with CE on its synthetic data, and the conformer of
`recipes/tts_digits/conformer_ctc.py` on synthetic data of the recipe's shape. Default plan: on CUDA both models in
all three precisions eager, plus the conformer compiled in bfloat16 (compiling the anchor's LSTM model gives no
graph: torch.compile leaves LSTMs and packed sequences to eager mode); on CPU the anchor in float32, bfloat16 and,
where CPU autocast supports it, float16. `--model/--precisions/--compile-modes` replace the plan by their cross
product.

Per setting and implementation: frames/s over the steps after the warm-up (`--warmup-steps`, default 3), time
from process start to the end of the first optimizer step, peak memory (PyTorch's max allocated on CUDA, peak RSS
on CPU) and the epoch's training loss; per setting the ratio seqtrain/plain (median of the per-pair ratios), the
AMP speedup over float32 and the compiled speedup over eager, per implementation, and the issue's targets.
"""
