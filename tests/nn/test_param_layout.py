"""The block structure of each parameter axis of a net-dict network (what growth in width copies per block)."""

from __future__ import annotations

from seqtrain.nn.param_layout import layer_import_modes, network_layout
from tests.nn.helpers import build, make_builder


def test_blocks_follow_gates_directions_and_concatenation() -> None:
    net = {
        "fw": {"class": "lstm", "from": "data", "n_out": 3},
        "bi": {"class": "blstm", "from": "data", "n_out": 2},
        "both": {"class": "copy", "from": ["fw", "bi"]},  # [3 | 2, 2]
        "norm": {"class": "layer_norm", "from": "both"},
        "proj": {"class": "linear", "from": "norm", "n_out": 5, "custom_param_importer": "reset"},
        "conv": {"class": "conv1d", "from": "bi", "n_out": 4, "filter_size": 3},
        "output": {"class": "softmax", "from": ["proj", "conv"], "n_out": 6, "loss": "ctc", "target": "classes"},
    }
    builder = make_builder(net)
    layout = network_layout(builder.net_spec(1), build(builder))
    assert layout["fw.weight_ih"] == [[3, 3, 3, 3], [6]]  # 4 gates; data is one block
    assert layout["bi.weight_hh_reverse"] == [[2, 2, 2, 2], [2]]
    assert layout["norm.weight"] == [[3, 2, 2]]  # a norm keeps its input's blocks
    assert layout["proj.weight"] == [[5], [3, 2, 2]]
    assert layout["conv.weight"] == [[4], [2, 2], [3]]
    assert layout["output.weight"] == [[6], [5, 4]]
    assert layer_import_modes(builder.net_spec(1)) == {"proj": "reset"}
