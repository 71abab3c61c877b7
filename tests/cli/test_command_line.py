"""The command line: `key=value` overrides before or after the options; anything else unknown is an error."""

from __future__ import annotations

import pytest

from seqtrain.cli.main import parse_command_line


def test_overrides_may_follow_the_options() -> None:
    args = parse_command_line(["recog", "cfg.py", "a=1", "--epoch", "6", "--data", "dev", "b='x y'", "c=[1, 2]"])
    assert (args.config, args.epoch, args.data) == ("cfg.py", 6, "dev")
    assert args.overrides == ["a=1", "b='x y'", "c=[1, 2]"]
    assert parse_command_line(["train", "cfg.py", "num_epochs=2"]).overrides == ["num_epochs=2"]


def test_unknown_options_and_stray_words_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["recog", "cfg.py", "--epoch", "6", "--beam", "4"], ["recog", "cfg.py", "--epoch", "6", "stray"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_command_line(argv)
        assert exit_info.value.code == 2
        assert "unrecognized arguments: " + argv[-2 if argv[-2].startswith("--") else -1] in capsys.readouterr().err
