#!/bin/bash
# RETURNN's demos (rwth-i6/returnn demos/*.config) with RETURNN and with seqtrain, 5 epochs, seeds 42 43 44.
#   bench/returnn_demos/run.sh DEMO_DIR OUT_DIR
# Needs RETURNN with TensorFlow in $RETURNN_PYTHON's venv (pip install returnn dm-tree h5py tensorflow-cpu torch).
# Two demos call os.getlogin(), which fails without a login terminal; their copies ask getpass.getuser() instead.
set -e
DEMOS=${1:?demo dir}; OUT=${2:?out dir}; RETURNN_PYTHON=${RETURNN_PYTHON:-/work/.venv-returnn/bin/python}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT/returnn" "$OUT/seqtrain"
for d in demo-tf-native-lstm.12ax demo-tf-native-lstm2.12ax demo-tf-native-lstm2.12ax.tuned \
         demo-tf-native-lstm-lowmem.12ax demo-tf-vanilla-lstm.12ax demo-tf-contribrnn-lstm.12ax \
         demo-tf-chunking-blstm.12ax demo-tf-rec-explicit-rnn demo-tf-rec-explicit-lstm demo-torch; do
  for side in returnn seqtrain; do
    sed 's/os.getlogin()/__import__("getpass").getuser()/' "$DEMOS/$d.config" > "$OUT/$side/$d.config"
  done
  for seed in 42 43 44; do
    (cd "$OUT/returnn" && rm -rf "/tmp/$USER/returnn/$d" && PYTHONPATH="$REPO" "$RETURNN_PYTHON" -m bench.returnn_demos.returnn_cpu \
      "$d.config" ++num_epochs 5 ++random_seed $seed > "$d.seed$seed.log" 2>&1 || true)
    cp "/tmp/$USER/returnn/$d/learning_rates" "$OUT/returnn/$d.seed$seed.lr" 2>/dev/null || true
    (cd "$OUT/seqtrain" && rm -rf "/tmp/$USER/returnn/$d" && seqtrain train "$d.config" num_epochs=5 random_seed=$seed \
      > "$d.seed$seed.log" 2>&1 || true)
    cp "/tmp/$USER/returnn/$d/model.learning_rates" "$OUT/seqtrain/$d.seed$seed.lr" 2>/dev/null || \
      cp "/tmp/$USER/returnn/$d/learning_rates" "$OUT/seqtrain/$d.seed$seed.lr" 2>/dev/null || true
  done
done
python -m bench.returnn_demos.compare "$OUT/returnn" "$OUT/seqtrain"
