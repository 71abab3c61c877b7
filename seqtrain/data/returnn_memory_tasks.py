"""RETURNN's memory and sequence-to-sequence tasks, number for number (the base class: returnn_tasks.py).

`TaskEpisodicCopyDataset` (recall a string after a pause), `TaskXmlModelingDataset` (predict the next character
of nested tags), `TaskVariableAssignmentDataset` (answer a query from key/value assignments) and
`TaskNumberBaseConvertDataset` (a number's digits in another base: input and target of different lengths).
Inputs of the first three are one-hot float32 over their characters, targets int64 class indices (what RETURNN's
`numpy.array(list)` gives); the number task's input is sparse int64 digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqtrain.data.dataset import DATASETS, DataSpec
from seqtrain.data.returnn_tasks import ReturnnTaskDataset, dense_spec, one_hot, pick, sparse_spec
from seqtrain.errors import ConfigError


class _CharTask(ReturnnTaskDataset):
    """A task whose input and target are strings over `CHARS`: one-hot input, class-index target."""

    CHARS = ""

    def data_specs(self) -> dict[str, DataSpec]:
        return {"data": dense_spec(len(self.CHARS)), "classes": sparse_spec(len(self.CHARS))}

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        text, target = self.make_text(rng)
        return {
            "data": one_hot([self.CHARS.index(c) for c in text], len(self.CHARS)),
            "classes": np.array([self.CHARS.index(c) for c in target], dtype="int64"),
        }

    def make_text(self, rng: np.random.RandomState) -> tuple[str, str]:
        """(input, target) strings of equal length."""
        raise NotImplementedError


class TaskEpisodicCopyDataset(_CharTask):
    """Digits, then blanks, then a "." that asks for the digits back, one per step (then "." again)."""

    CHARS = " .01234567"

    def make_text(self, rng: np.random.RandomState) -> tuple[str, str]:
        num_chars = rng.randint(1, 10)
        chars = "".join(pick(rng, self.CHARS[2:]) for _ in range(num_chars))
        text = chars + " " * rng.randint(1, 100) + "." + "." * (num_chars + 1)
        start = len(text) - num_chars - 1  # the first step after the first "."
        return text, " " * start + chars + "."


class TaskXmlModelingDataset(_CharTask):
    """Nested tags like " <ab><c></c></ab>"; the target is the next character where it is predictable, else " "."""

    CHARS = " <>/abcdefgh"

    def __init__(
        self,
        limit_stack_depth: int = 4,
        **base: Any,  # ReturnnTaskDataset's options (num_seqs, ...): the factory checks them there
    ) -> None:
        super().__init__(**base)
        name = self.name
        if not isinstance(limit_stack_depth, int) or limit_stack_depth < 1:
            raise ConfigError(f"dataset {name!r}: limit_stack_depth must be an int >= 1, got {limit_stack_depth!r}")
        self.limit_stack_depth = limit_stack_depth

    def make_text(self, rng: np.random.RandomState) -> tuple[str, str]:
        text, open_tags = " ", []
        while True:  # RETURNN draws `rand()` only where its conditions reach it; so do we
            if not open_tags or (len(open_tags) < self.limit_stack_depth and rng.rand() > 0.6):
                tag = "".join(pick(rng, self.CHARS[4:]) for _ in range(rng.randint(1, 10)))
                text += f"<{tag}>"
                open_tags.append(tag)
            else:
                text += f"</{open_tags.pop()}>"
            if not open_tags and rng.rand() > 0.2:
                break
        return text, self.next_chars(text)

    @staticmethod
    def next_chars(text: str) -> str:
        """After " " or ">": "<"; in a closing tag: its next character, then ">"; else unknown (" ")."""
        out, open_tags, closing, state = [], [], "", "text"
        for c in text:
            if c in " >":
                out.append("<")
                state = "tag"
            elif state == "tag":  # c is "<": "/" or a name follows
                out.append(" ")
                state = "name"
            elif state == "name" and c == "/":
                closing = open_tags.pop()
                out.append(closing[0])
                closing, state = closing[1:], "closing"
            elif state == "name":
                open_tags.append(c)
                out.append(" ")
                state = "opening"
            elif state == "opening":
                open_tags[-1] += c
                out.append(" ")
            else:  # in a closing tag's name
                out.append(closing[0] if closing else ">")
                closing = closing[1:]
        return "".join(out)


class TaskVariableAssignmentDataset(_CharTask):
    """ "S(key,v),S(...),Q(key)v." : after the query's ")" the target spells the stored value, then "." """

    CHARS = " ,.SQ()abcdefgh"

    def make_text(self, rng: np.random.RandomState) -> tuple[str, str]:
        letters = self.CHARS[7:]
        store: dict[str, str] = {}
        for _ in range(rng.randint(1, 5)):
            key_len = rng.randint(2, 5)
            key = ""
            while not key or key in store:  # a new key
                key = "".join(pick(rng, letters) for _ in range(key_len))
            store[key] = "".join(pick(rng, letters) for _ in range(rng.randint(1, 2)))
        # RETURNN passes `store.keys()`, a list under Python 2; numpy on Python 3 rejects the view, so RETURNN's
        # class fails there. We draw from the keys in insertion order, as RETURNN did when it worked.
        query = pick(rng, list(store))
        body = ",".join(f"S({k},{v})" for k, v in store.items()) + f",Q({query})"
        value = store[query]
        text = body + value + "."
        return text, " " * (len(body) - 1) + value + ". "


class TaskNumberBaseConvertDataset(ReturnnTaskDataset):
    """A number's digits in `input_base` (sparse input) -> the same number's digits in `output_base` (target)."""

    DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

    def __init__(
        self,
        input_base: int = 8,
        output_base: int = 2,
        min_input_seq_len: int = 1,
        max_input_seq_len: int = 8,
        **base: Any,  # ReturnnTaskDataset's options (num_seqs, ...): the factory checks them there
    ) -> None:
        super().__init__(**base)
        name = self.name
        for key, base in (("input_base", input_base), ("output_base", output_base)):
            if not isinstance(base, int) or not 2 <= base <= len(self.DIGITS):
                raise ConfigError(f"dataset {name!r}: {key} must be an int in 2..{len(self.DIGITS)}, got {base!r}")
        if not 0 < min_input_seq_len <= max_input_seq_len:
            raise ConfigError(
                f"dataset {name!r}: need 0 < min_input_seq_len <= max_input_seq_len, "
                f"got {min_input_seq_len!r}, {max_input_seq_len!r}"
            )
        self.input_base, self.output_base = input_base, output_base
        self.min_input_seq_len, self.max_input_seq_len = min_input_seq_len, max_input_seq_len

    def data_specs(self) -> dict[str, DataSpec]:
        return {
            "data": sparse_spec(self.input_base, vocab=self.DIGITS[: self.input_base]),
            "classes": sparse_spec(self.output_base, vocab=self.DIGITS[: self.output_base]),
        }

    def make_seq(self, idx: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
        length = rng.randint(self.min_input_seq_len, self.max_input_seq_len + 1)
        digits = [rng.randint(0, self.input_base) for _ in range(length)]
        number = 0
        for d in digits:
            number = number * self.input_base + d
        out = []
        while number:
            number, d = divmod(number, self.output_base)
            out.append(d)
        return {"data": np.array(digits, dtype="int64"), "classes": np.array(out[::-1] or [0], dtype="int64")}


for _cls in (TaskEpisodicCopyDataset, TaskXmlModelingDataset, TaskVariableAssignmentDataset):
    DATASETS.register(_cls.__name__, _cls)
DATASETS.register("TaskNumberBaseConvertDataset", TaskNumberBaseConvertDataset)
