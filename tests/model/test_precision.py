"""Mixed precision (`torch_amp`, `grad_scaler`): the options, loss scaling with skipped updates, and whole runs on
CPU (autocast supports bfloat16 and float16 for linear layers there) that train, resume bitwise and log."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from seqtrain.config import Config
from seqtrain.errors import ConfigError
from seqtrain.model.precision import LossScaler, Precision
from seqtrain.train.optim.lr_file import read_scores
from seqtrain.train.step import ClipOptions, clip_and_update
from tests.corpus import write_config
from tests.train.helpers import assert_bitwise_equal, model_params, run_cli
from tests.train.net_configs import write_net_config


def _precision(**values: object) -> Precision:
    return Precision.from_config(Config.from_dict(values))


def test_float32_unless_torch_amp_is_set() -> None:
    assert _precision() == Precision(amp=False, dtype=None, grad_scaler=None)
    assert _precision(grad_scaler={"init_scale": 8.0}).amp is False


def test_returnn_forms_of_torch_amp_and_grad_scaler() -> None:
    assert _precision(torch_amp="bfloat16") == Precision(amp=True, dtype=torch.bfloat16, grad_scaler={})
    assert _precision(torch_amp="float16", grad_scaler=None).grad_scaler is None  # RETURNN: None = no scaler
    as_dict = _precision(torch_amp={"dtype": "float16", "grad_scaler": {"growth_interval": 10}}, grad_scaler=None)
    assert (as_dict.dtype, as_dict.grad_scaler) == (torch.float16, {"growth_interval": 10})  # the dict's wins
    assert _precision(torch_amp={}).dtype is None  # the device's autocast default
    assert not _precision(torch_amp="bfloat16", torch_amp_eval=False).in_eval


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"torch_amp": {"dtype": "float64"}}, "torch_amp: dtype must be 'bfloat16' or 'float16', got 'float64'"),
        ({"torch_amp": {"dtyp": "float16"}}, "torch_amp: unknown option 'dtyp'; did you mean 'dtype'?"),
        ({"torch_amp": "float16", "grad_scaler": {"init_scal": 2.0}}, "unknown option 'init_scal'; did you mean"),
        ({"torch_amp": "float16", "grad_scaler": {"backoff_factor": 1.0}}, "backoff_factor must be in (0, 1)"),
    ],
)
def test_mistakes_name_the_option(values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _precision(**values)
    assert message in str(info.value)


def test_an_unknown_dtype_string_is_rejected_when_the_config_is_read() -> None:
    with pytest.raises(ConfigError, match="torch_amp"):
        Config.from_dict({"torch_amp": "bf16"})


def test_autocast_in_training_and_in_eval_only_when_asked() -> None:
    linear = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    cpu = torch.device("cpu")
    amp = _precision(torch_amp="bfloat16")
    with amp.autocast(cpu):
        assert linear(x).dtype == torch.bfloat16
    with amp.autocast(cpu, train=False):
        assert linear(x).dtype == torch.bfloat16
    with _precision(torch_amp="bfloat16", torch_amp_eval=False).autocast(cpu, train=False):
        assert linear(x).dtype == torch.float32
    with _precision().autocast(cpu):
        assert linear(x).dtype == torch.float32


def test_an_overflowing_update_is_skipped_counted_and_lowers_the_scale() -> None:
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scaler = LossScaler({"init_scale": 2.0**100}, torch.device("cpu"))
    scaler.scale((param * 1e30).sum()).backward()  # 1e30 * 2^100 overflows float32: the gradient is inf
    clip_and_update(params=[param], optimizer=optimizer, clip=ClipOptions(gradient_clip_global_norm=1.0), scaler=scaler)
    assert torch.equal(param.detach(), torch.ones(3)) and param.grad is None
    assert scaler.skipped_updates == 1 and scaler.state_dict()["scale"] == 2.0**99
    scaler.scale((param * 2.0).sum()).backward()
    norm = clip_and_update(params=[param], optimizer=optimizer, clip=ClipOptions(), scaler=scaler)
    assert norm == pytest.approx(2.0 * 3**0.5)  # measured after unscaling
    assert torch.allclose(param.detach(), torch.full((3,), 0.8))  # the true gradient 2, not 2 * 2^99
    assert scaler.skipped_updates == 1


def test_scaler_state_round_trips() -> None:
    a = LossScaler({"init_scale": 1024.0, "growth_interval": 3}, torch.device("cpu"))
    a.scale(torch.ones((), requires_grad=True))
    b = LossScaler({}, torch.device("cpu"))
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()
    LossScaler(None, torch.device("cpu")).load_state_dict({"scale": 2.0})  # no scaler now: nothing to restore


# ---------------------------------------------------------------------------- whole runs

AMP_RUN = """
num_workers = 0
checkpoint_interval_steps = 2
torch_amp = {amp!r}
grad_scaler = {scaler!r}
_CRASH_FLAG = {crash_flag!r}
_plain_train_step = train_step

def train_step(*, model, batch, ctx):
    if ctx.train and ctx.step == 5 and os.path.exists(_CRASH_FLAG):
        os.unlink(_CRASH_FLAG)
        raise RuntimeError("simulated crash in step 5")
    _plain_train_step(model=model, batch=batch, ctx=ctx)
"""
# float16 with a scale that overflows at first (updates skipped until it has come down) and grows again every 3
# steps: the scaler's state changes all the time, so a resume that lost it would differ.
FLOAT16 = {"amp": "float16", "scaler": {"init_scale": 2.0**24, "growth_interval": 3}}


def _amp_run(directory: Path, corpus: dict, *, amp: object, scaler: object, crash: bool = False) -> tuple[Path, str]:
    directory.mkdir(parents=True, exist_ok=True)
    flag = directory / "crash.flag"
    extra = "import os\n" + AMP_RUN.format(amp=amp, scaler=scaler, crash_flag=str(flag))
    config = write_config(directory, corpus, num_epochs=2, extra=extra)
    if crash:
        flag.touch()
        with pytest.raises(RuntimeError, match="simulated crash in step 5"):
            run_cli("train", config)
    assert run_cli("train", config) == 0
    return directory / "out", (directory / "out/model.log").read_text()


@pytest.fixture(scope="module")
def float16_run(tiny_corpus: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return _amp_run(tmp_path_factory.mktemp("float16"), tiny_corpus, **FLOAT16)


def test_float16_run_skips_overflowing_updates_and_says_so(float16_run: tuple[Path, str]) -> None:
    out, log = float16_run
    assert "device cpu, autocast float16 (GradScaler {'init_scale': 16777216.0, 'growth_interval': 3})" in log
    skipped = [int(n) for n in re.findall(r"(\d+) updates skipped \(inf/nan gradients, GradScaler\)", log)]
    assert skipped and skipped[0] >= 1  # epoch 1 starts with a scale float16 cannot hold
    state = torch.load(out / "model.002.pt", weights_only=True)["grad_scaler"]
    assert 1.0 <= state["scale"] < 2.0**24


@pytest.mark.slow
def test_float16_run_crashed_and_resumed_is_bitwise_the_uninterrupted_one(
    float16_run: tuple[Path, str], tiny_corpus: dict, tmp_path: Path
) -> None:
    resumed, _ = _amp_run(tmp_path, tiny_corpus, crash=True, **FLOAT16)
    assert_bitwise_equal(model_params(float16_run[0] / "model.002.pt"), model_params(resumed / "model.002.pt"))
    assert read_scores(float16_run[0] / "model.learning_rates") == read_scores(resumed / "model.learning_rates")
    reference = torch.load(float16_run[0] / "model.002.pt", weights_only=True)["grad_scaler"]
    assert torch.load(resumed / "model.002.pt", weights_only=True)["grad_scaler"] == reference


@pytest.mark.slow
def test_bfloat16_scores_are_close_to_float32(tiny_corpus: dict, tmp_path: Path) -> None:
    """(That it learns as well is shown on the recipe's model: tests/recipes/test_tts_digits.py.)"""
    scores = {}
    for name, amp in (("float32", None), ("bfloat16", "bfloat16")):
        out, log = _amp_run(tmp_path / name, tiny_corpus, amp=amp, scaler=None)
        scores[name] = read_scores(out / "model.learning_rates")[2].error["dev_loss_ctc"]
        assert ("autocast bfloat16 (no GradScaler)" in log) == (amp is not None)
    assert scores["bfloat16"] == pytest.approx(scores["float32"], rel=0.05)


def test_accumulated_scaled_gradients_are_unscaled_once_per_update() -> None:
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scaler = LossScaler({"init_scale": 1024.0}, torch.device("cpu"))
    for grad in ([1.0, 2.0], [3.0, -1.0]):  # two batches of one update, each backward scaled
        scaler.scale((param * torch.tensor(grad)).sum()).backward()
    norm = clip_and_update(params=[param], optimizer=optimizer, clip=ClipOptions(gradient_clip=3.0), scaler=scaler)
    assert norm == pytest.approx(17**0.5)  # of the summed true gradient (4, 1), not of 1024 times it
    assert param.detach().tolist() == [-3.0, -1.0]  # clipped by value at 3 after unscaling


GROWING_NET_IN_BFLOAT16 = """
from seqtrain.model.pretrain import WrapEpochValue

network = {
    "lstm0": {"class": "blstm", "from": "data", "n_out": WrapEpochValue(lambda epoch: 2 + 2 * epoch)},
    "lstm1": {"class": "blstm", "from": "lstm0", "n_out": 6},
    "output": {"class": "softmax", "from": "lstm1", "n_out": 6, "loss": "ctc", "target": "classes"},
}
pretrain = {"construction_algo": "from_output", "repetitions": 1}
num_epochs = 3
torch_amp = "bfloat16"
"""


def test_a_growing_net_dict_trains_in_bfloat16(tiny_corpus: dict, tmp_path: Path) -> None:
    """The net-dict style under autocast, with a rebuild (and parameter copy) per pretraining epoch."""
    assert run_cli("train", write_net_config(tmp_path, tiny_corpus, GROWING_NET_IN_BFLOAT16)) == 0
    scores = read_scores(tmp_path / "out/model.learning_rates")
    assert sorted(scores) == [1, 2, 3]
    assert all(math.isfinite(v) for s in scores.values() for v in s.error.values())
    state = torch.load(tmp_path / "out/model.003.pt", weights_only=True)
    assert all(t.dtype == torch.float32 for t in state["model"].values() if t.is_floating_point())
    assert state["grad_scaler"]["scale"] > 0  # RETURNN's default: a GradScaler whenever torch_amp is set
