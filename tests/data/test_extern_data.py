from __future__ import annotations

from pathlib import Path

import pytest

from seqtrain.data.extern_data import resolve_extern_data
from seqtrain.data.factory import make_dataset
from seqtrain.errors import ConfigError, DataError


def _sets(tiny_corpus: dict[str, Path]) -> list:
    return [make_dataset({"class": "HDFDataset", "files": [str(p)]}, name=n) for n, p in tiny_corpus.items()]


def test_inferred_from_dataset(tiny_corpus: dict) -> None:
    specs = resolve_extern_data(None, _sets(tiny_corpus))
    assert (specs["data"].dim, specs["data"].dtype, specs["data"].sparse) == (8, "float32", False)
    assert (specs["classes"].dim, specs["classes"].sparse, specs["classes"].vocab) == (
        5,
        True,
        ("a", "b", "c", "d", " "),
    )


def test_declared_subset_and_float_widening(tiny_corpus: dict) -> None:
    specs = resolve_extern_data({"data": {"dim": 8, "dtype": "float64"}}, _sets(tiny_corpus))
    assert list(specs) == ["data"] and specs["data"].dtype == "float64"


@pytest.mark.parametrize(
    ("declared", "error", "message"),
    [
        (
            {"data": {"dim": 80}},
            DataError,
            r"dataset 'train', data key 'data': extern_data says dim=80, the data has dim=8",
        ),
        ({"classes": {"dim": 5, "sparse": False}}, DataError, "says sparse=False, the data is sparse=True"),
        ({"phones": {"dim": 40}}, DataError, r"extern_data key 'phones' is not provided by dataset 'train'"),
        ({"data": {"dim": 8, "dtype": "int32"}}, DataError, "only float->float and int->int"),
        ({"data": {"dimension": 8}}, ConfigError, r"extern_data\['data'\]: unknown options \['dimension'\]"),
    ],
)
def test_mismatch_is_a_clear_error(tiny_corpus: dict, declared: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        resolve_extern_data(declared, _sets(tiny_corpus))
