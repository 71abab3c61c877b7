"""RETURNN configs load as they are: their form, their own variables, RETURNN-only names, `config` object."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest

from seqtrain.config import load_config
from seqtrain.config.settings import DataSettings, OptimizerSettings
from seqtrain.errors import ConfigError
from seqtrain.train.optim.lr_setup import control_options

RETURNN_HEAD = """\
#!returnn.py
import os
demo_name, _ = os.path.splitext(__file__)
use_tensorflow = True
task = "train"
train = {"class": "GeneratingDataset", "num_seqs": 10}
num_inputs = 9
num_outputs = 2
batching = "random"
"""


def write(tmp_path: Path, text: str, name: str = "returnn.config") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_returnn_config_with_its_own_variables_loads_and_reports_them(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="seqtrain")
    config = load_config(write(tmp_path, RETURNN_HEAD + "layer_dim = 10\ntf_log_memory_usage = True\n"))
    assert config.get("num_inputs") == 9 and config.get("batching") == "random"
    messages = [r.getMessage() for r in caplog.records]
    ignored = [m for m in messages if "without effect" in m]
    own = [m for m in messages if "own variables" in m]
    assert len(ignored) == 1 and "use_tensorflow" in ignored[0] and "tf_log_memory_usage" in ignored[0]
    assert len(own) == 1 and "demo_name" in own[0] and "layer_dim" in own[0]


def test_typo_of_a_key_is_still_an_error_in_a_returnn_config(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rte'; did you mean 'learning_rate'"):
        load_config(write(tmp_path, RETURNN_HEAD + "learning_rte = 0.1\n"))


def test_seqtrain_config_keeps_the_strict_rule(tmp_path) -> None:
    path = write(tmp_path, "num_epochs = 1\nlayer_dim = 10\n", name="config.py")
    with pytest.raises(ConfigError, match="unknown config key 'layer_dim'"):
        load_config(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("use_last_best_model = {'modulo': 5}", "RETURNN key 'use_last_best_model' is not supported"),
        ("truncation = 10", r"RETURNN key 'truncation' = 10 is not supported \(only -1\)"),
        ("adam = True\noptimizer = {'class': 'sgd'}", "each choose the optimizer; keep one"),
        ("eval = train\neval_datasets = {'eval': train}", "both `eval` and eval_datasets"),
    ],
)
def test_returnn_names_without_support_are_clear_errors(tmp_path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataSettings.from_config(load_config(write(tmp_path, RETURNN_HEAD + line + "\n")))


def test_returnn_defaults_and_legacy_optimizer_flags(tmp_path) -> None:
    config = load_config(write(tmp_path, RETURNN_HEAD + "truncation = -1\nadam = True\n"))
    assert config.get("optimizer") == {"class": "adam"}


def test_config_object_reads_overrides_then_the_file(tmp_path) -> None:
    text = RETURNN_HEAD + textwrap.dedent("""\
        layer_dim = config.int("layer_dim", 500)
        task = config.value("task", "train")
        network = {"output": {"class": "softmax", "loss": "ce", "n_out": layer_dim}}
        batch_size = config.int("batch_size", 1000) + 1
    """)
    path = write(tmp_path, text)
    config = load_config(path, ["layer_dim=7"])
    assert config.get("network")["output"]["n_out"] == 7
    assert config.get("batch_size") == 1001
    assert config.variable_overrides == {"layer_dim": 7}
    assert config.fingerprint() != load_config(path, ["layer_dim=8"]).fingerprint()
    with pytest.raises(ConfigError, match="unknown config key 'hidden_dim'"):
        load_config(path, ["hidden_dim=7"])  # not read by the file: a typo, not a variable


def test_num_inputs_num_outputs_become_extern_data(tmp_path) -> None:
    data = DataSettings.from_config(load_config(write(tmp_path, RETURNN_HEAD)))
    assert data.extern_data == {"classes": {"dim": 2, "sparse": True}, "data": {"dim": 9}}
    text = RETURNN_HEAD + "num_outputs = {'data': [10, 1], 'classes': [10, 1], 'feat': {'dim': 3}}\n"
    data = DataSettings.from_config(load_config(write(tmp_path, text)))
    assert data.extern_data == {"data": {"dim": 10, "sparse": True}, "classes": {"dim": 10, "sparse": True},
                                "feat": {"dim": 3}}  # fmt: skip
    text = RETURNN_HEAD + "extern_data = {'data': {'dim': 9}, 'classes': {'dim': 2, 'sparse': True}}\n"
    assert DataSettings.from_config(load_config(write(tmp_path, text))).extern_data["data"] == {"dim": 9}
    with pytest.raises(ConfigError, match=r"num_outputs\['classes'\] = \[2, 3, 4\]"):
        DataSettings.from_config(load_config(write(tmp_path, RETURNN_HEAD + "num_outputs = {'classes': [2, 3, 4]}\n")))


def test_eval_dataset_joins_eval_datasets(tmp_path) -> None:
    data = DataSettings.from_config(load_config(write(tmp_path, RETURNN_HEAD + "eval = dict(train)\n")))
    assert data.eval_datasets == {"eval": {"class": "GeneratingDataset", "num_seqs": 10}}


def test_learning_rate_decay_is_read_before_newbob_learning_rate_decay(tmp_path) -> None:
    text = RETURNN_HEAD + "learning_rate_decay = 0.9\nnewbob_learning_rate_decay = 0.5\n"
    assert control_options(OptimizerSettings.from_config(load_config(write(tmp_path, text)))).decay == 0.9
    text = RETURNN_HEAD + "newbob_learning_rate_decay = 0.5\n"
    assert control_options(OptimizerSettings.from_config(load_config(write(tmp_path, text)))).decay == 0.5


def test_old_line_format(tmp_path) -> None:
    text = """\
        # dataset
        train GeneratingDataset::Task12AXDataset(num_seqs=100)
        num_inputs 9
        num_outputs 2
        batch_size 2000
        chunking 200:200   # a comment
        learning_rate 1
        adam true
        model /tmp/x/model
    """
    config = load_config(write(tmp_path, text))
    assert config.get("train") == "GeneratingDataset::Task12AXDataset(num_seqs=100)"
    assert config.get("chunking") == "200:200" and config.get("batch_size") == 2000
    assert config.get("optimizer") == {"class": "adam"} and config.get("model") == "/tmp/x/model"
    with pytest.raises(ConfigError, match=r"line 2: 'broken' is neither Python nor"):
        load_config(write(tmp_path, "num_inputs 9\nbroken\n"))


def test_json_format(tmp_path) -> None:
    config = load_config(write(tmp_path, '{"num_epochs": 3, "learning_rate": 0.5}'))
    assert config.get("num_epochs") == 3
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(write(tmp_path, '{"num_epochs": 3,'))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('#!returnn.py\nprint "hello"\n', r"line 2: Python 2 syntax .*write print\(\.\.\.\)"),
        ("#!returnn.py\nx = (\n", "line 2"),
        ("#!returnn.py\ntask = 'hyper_param_tuning'\n", "task='hyper_param_tuning' is RETURNN's; .*one config per"),
        ("#!returnn.py\ntask = 'search'\n", "seqtrain recog"),
        ("#!returnn.py\nimport returnn_not_a_module_x\n", "No module named 'returnn_not_a_module_x'"),
    ],
)
def test_files_that_do_not_execute_are_errors_naming_the_line(tmp_path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_hyper_param_tuning_import_says_what_happened(tmp_path, monkeypatch) -> None:
    """RETURNN maps the old module name HyperParamTuning once it is imported itself; a fresh process has none."""
    monkeypatch.setitem(sys.modules, "HyperParamTuning", None)
    with pytest.raises(ConfigError, match="hyper-parameter tuning"):
        load_config(write(tmp_path, "#!returnn.py\nfrom HyperParamTuning import HyperParam\n"))


def test_returnn_keys_are_really_read_by_returnn() -> None:
    """Every key marked `returnn=True` is a name RETURNN's own code reads from its config."""
    returnn = pytest.importorskip("returnn")
    import re

    from seqtrain.config import all_keys

    read = re.compile(r"""(?:config|self\.config)\.\w+\(\s*["']([A-Za-z_]\w*)["']""")
    names: set[str] = set()
    for source in Path(returnn.__file__).parent.rglob("*.py"):
        names |= set(read.findall(source.read_text(errors="ignore")))
    marked = {k.name for k in all_keys() if k.returnn}
    assert marked - names == set()
