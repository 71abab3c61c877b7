"""RETURNN's entry point with its native TensorFlow ops compiled for CPU only.

On a machine with an `nvcc` but a CPU-only TensorFlow, RETURNN (1.20261022) compiles its LSTM/chunking ops with
CUDA headers and fails; this sets RETURNN's own switch before its main runs. Run with RETURNN's venv:
    RETURNN_PYTHON -m bench.returnn_demos.returnn_cpu demo.config ++num_epochs 5 ++random_seed 42
"""

import sys

import returnn.tf.native_op as native_op

native_op.OpMaker.with_cuda = False

from returnn.__main__ import main  # noqa: E402  (after the switch)

main(sys.argv)
