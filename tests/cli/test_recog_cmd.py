"""`seqtrain recog` over several datasets, `seqtrain lm`, and `--tune` of ctc_beam's LM weight and word penalty."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from seqtrain.cli.main import main
from seqtrain.model.forward import forward_outputs
from seqtrain.recog import run
from seqtrain.recog.wer import word_error_rate
from tests.corpus import write_config
from tests.recog.helpers import require_lmplz


@pytest.fixture(scope="module")
def trained(tiny_corpus: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained for two epochs; the dev set is also the eval set "test_a"."""
    directory = tmp_path_factory.mktemp("recog")
    config = write_config(directory, tiny_corpus, num_epochs=2, extra='eval_datasets = {"test_a": dev}\n')
    assert main(["train", str(config), "learning_rate=0.03"]) == 0
    return config


def _results(out: str) -> list[str]:
    """The result lines (the config's log_verbosity 4 also logs to stdout)."""
    return [line for line in out.splitlines() if line.startswith(("epoch ", "best on "))]


def _references(path: Path) -> list[str]:
    return [line.split("\tref: ", 1)[1] for line in path.read_text().splitlines() if "\tref: " in line]


def test_recog_prints_one_wer_per_dataset(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recog", str(trained), "--data", "dev,test_a"]) == 0
    lines = _results(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == ["epoch 2 dev", "epoch 2 test_a"]
    assert lines[0].split(": ", 1)[1].split(";")[0] == lines[1].split(": ", 1)[1].split(";")[0]  # the same data
    assert (trained.parent / "out" / "model.recog.test_a.txt").is_file()
    assert main(["recog", str(trained), "--data", "dev,test_a", "--output", "x.txt"]) == 1
    assert "--output names one file, --data 2 datasets" in capsys.readouterr().err


def test_score_groups_give_the_wer_of_the_sequences_whose_tag_matches(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = {"even": "[02468]$", "first_ten": r"-\d$", "none": "^nothing"}
    assert main(["recog", str(trained), f"recog_score_groups={groups!r}"]) == 0
    lines = _results(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == [
        "epoch 2 dev", "epoch 2 dev [even]", "epoch 2 dev [first_ten]", "epoch 2 dev [none]"
    ]  # fmt: skip
    text = (trained.parent / "out" / "model.recog.dev.txt").read_text().splitlines()
    pairs = {line.split("\t")[0]: [] for line in text}
    for line in text:
        pairs[line.split("\t")[0]].append(line.split(": ", 1)[1] if ": " in line else "")
    for name, pattern in list(groups.items())[:2]:
        tags = [t for t in sorted(pairs) if re.search(pattern, t)]
        assert len(tags) == 10  # dev-0 ... dev-19
        expected = word_error_rate([pairs[t][0] for t in tags], [pairs[t][1] for t in tags])
        assert lines[1 + list(groups).index(name)].endswith(f": {expected}")
    assert lines[3].endswith(": no sequence tag matches the group's regular expression")
    assert main(["recog", str(trained), "recog_score_groups={'bad': '(unclosed'}"]) == 1
    assert "group 'bad': '(unclosed' is not a regular expression" in capsys.readouterr().err


def test_lm_then_tune_the_lm_weight_and_word_penalty(
    trained: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require_lmplz()
    out = trained.parent / "out"
    assert main(["recog", str(trained), "--data", "train,dev"]) == 0  # greedy, for the references as LM text
    train_text, lexicon, lm = out / "train.txt", out / "lexicon.txt", out / "lm.arpa"
    train_text.write_text("\n".join(_references(out / "model.recog.train.txt")) + "\n")
    words = sorted({w for text in _references(out / "model.recog.dev.txt") for w in text.split()})
    lexicon.write_text("\n".join(words) + "\n")
    assert main(["lm", "--text", str(train_text), "--lexicon", str(lexicon), "--order", "2", "--out", str(lm)]) == 0
    assert f"wrote {lm}: 2-gram LM (1-grams " in capsys.readouterr().out
    decoder = ["recog_decoder='ctc_beam'", f"recog_lexicon={str(lexicon)!r}", f"recog_lm={str(lm)!r}"]
    grid = ["recog_lm_weight=0,1", "recog_word_penalty=0,-1"]
    forwarded: list[str] = []
    monkeypatch.setattr(run, "forward_outputs", lambda *a: forwarded.append(a[2]) or forward_outputs(*a))
    assert main(["recog", str(trained), *decoder, "--tune", *grid]) == 0
    assert forwarded == ["dev"]  # the model ran once for the 4 grid points
    lines = _results(capsys.readouterr().out)
    assert [line.split(": WER")[0] for line in lines[:4]] == [
        "epoch 2 dev: recog_lm_weight=0 recog_word_penalty=0",
        "epoch 2 dev: recog_lm_weight=0 recog_word_penalty=-1",
        "epoch 2 dev: recog_lm_weight=1 recog_word_penalty=0",
        "epoch 2 dev: recog_lm_weight=1 recog_word_penalty=-1",
    ]
    tuned = json.loads((out / "model.recog_tune.dev.json").read_text())
    assert tuned["grid"] == {"recog_lm_weight": [0, 1], "recog_word_penalty": [0, -1]} and len(tuned["points"]) == 4
    best = min(tuned["points"], key=lambda p: p["wer"])
    assert tuned["best"] == best and lines[4].startswith(f"best on dev: recog_lm_weight={best['recog_lm_weight']} ")
    assert lines[4].endswith(f"; grid in {out / 'model.recog_tune.dev.json'}")


@pytest.mark.parametrize(
    ("tune", "message"),
    [
        (["learning_rate=0.1,0.2"], r"--tune learning_rate: only recog_\* keys that the decoding reads can be tuned"),
        (["recog_output=a,b"], r"--tune recog_output: only recog_\* keys"),
        (["recog_score_groups=a,b"], r"--tune recog_score_groups: only recog_\* keys"),
        (["recog_lm_weigth=0,1"], "unknown config key 'recog_lm_weigth'; did you mean 'recog_lm_weight'"),
        (["recog_lm_weight=0,-1"], r"'recog_lm_weight': -1 .*must be >= 0"),
        (["recog_lm_weight=0", "recog_lm_weight=1"], "--tune recog_lm_weight is given twice"),
        (["recog_lm_weight"], r"--tune 'recog_lm_weight': write KEY=V1,V2,\.\.\."),
    ],
)
def test_bad_tune_grids_fail_before_the_forward_pass(
    tune: list[str], message: str, tmp_path: Path, tiny_corpus: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, tiny_corpus)  # never trained: the grid is checked before the model is loaded
    assert main(["recog", str(config), "--tune", *tune]) == 1
    err = capsys.readouterr().err
    assert err.startswith("seqtrain recog: error: ") and len(err.splitlines()) == 1
    assert re.search(message, err), err
