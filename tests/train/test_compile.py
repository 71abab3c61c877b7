"""`torch_compile`: options checked up front; a run compiles the model's forward a few times, not per batch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from seqtrain.errors import ConfigError
from seqtrain.train.compile import compile_model, compile_options
from tests.corpus import write_config
from tests.train.helpers import model_params, run_cli


def test_options() -> None:
    assert compile_options(False) is None
    assert compile_options(True) == {}
    assert compile_options({"mode": "reduce-overhead", "dynamic": True}) == {"mode": "reduce-overhead", "dynamic": True}
    with pytest.raises(ConfigError, match=re.escape("torch_compile: unknown option 'dynamc'; did you mean 'dynamic'?")):
        compile_options({"dynamc": True})


def test_a_compiled_model_keeps_its_parameter_names() -> None:
    """Checkpoints of a compiled run load into the plain model (and back)."""
    model = torch.nn.Linear(2, 2)
    names = list(model.state_dict())
    compile_model(model, {"backend": "eager"})  # no code generation: fast, same wrapping
    assert list(model.state_dict()) == names
    assert model(torch.ones(1, 2)).shape == (1, 2)


@pytest.mark.slow
def test_a_compiled_run_recompiles_a_few_times_not_per_batch_and_learns_the_same(
    tiny_corpus: dict, tmp_path: Path
) -> None:
    """11 batches of different lengths per epoch; inductor on the CPU (compiling takes a minute on 2 cores)."""
    extra = "num_workers = 0\n_plain_get_model = get_model\n"
    extra += "def get_model(*, epoch, config):\n    m = _plain_get_model(epoch=epoch, config=config)\n"
    extra += "    m.dropout.p = 0.0\n    return m\n"
    plain_dir, compiled_dir = tmp_path / "plain", tmp_path / "compiled"
    for directory in (plain_dir, compiled_dir):
        directory.mkdir()
    assert run_cli("train", write_config(plain_dir, tiny_corpus, num_epochs=2, extra=extra)) == 0
    config = write_config(compiled_dir, tiny_corpus, num_epochs=2, extra=extra + "torch_compile = True\n")
    assert run_cli("train", config) == 0
    log = (compiled_dir / "out/model.log").read_text()
    graphs = [int(n) for n in re.findall(r"torch.compile: (\d+) graphs compiled", log)]
    assert len(graphs) == 2 and 1 <= graphs[0] <= 4 and graphs[1] <= 2, graphs  # automatic dynamic shapes
    plain, compiled = model_params(plain_dir / "out/model.002.pt"), model_params(compiled_dir / "out/model.002.pt")
    assert plain.keys() == compiled.keys()
    for name in plain:
        torch.testing.assert_close(compiled[name], plain[name], rtol=1e-3, atol=1e-4)
