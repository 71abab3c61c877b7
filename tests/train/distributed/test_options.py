"""The `torch_distributed` dict: defaults, RETURNN's names, and an error naming the option for every mistake."""

from __future__ import annotations

import pytest
from torch.nn.parallel import DistributedDataParallel

from seqtrain.errors import ConfigError
from seqtrain.train.distributed.options import DistributedOptions, parse_options


def test_none_and_empty_dict_are_the_defaults() -> None:
    assert parse_options(None) == parse_options({}) == DistributedOptions()
    assert DistributedOptions() == DistributedOptions("grad", 0, False, None, 1800.0)


def test_returnn_param_averaging_config_is_accepted() -> None:
    opts = parse_options({"reduce_type": "param", "param_sync_step": 100})
    assert (opts.reduce_type, opts.param_sync_step) == ("param", 100)


def test_all_options() -> None:
    opts = parse_options({"batch_size_is_global": True, "backend": "gloo", "timeout_sec": 60, "reduce_type": "grad"})
    assert opts == DistributedOptions("grad", 0, True, "gloo", 60.0)


class _MyDDP(DistributedDataParallel):
    pass


def test_returnn_ddp_class_and_options_pass_through() -> None:
    ddp = {"find_unused_parameters": True, "bucket_cap_mb": 50, "gradient_as_bucket_view": True}
    opts = parse_options({"reduce_type": "grad", "class": _MyDDP, "options": ddp})
    assert (opts.ddp_class, opts.ddp_options) == (_MyDDP, ddp)
    assert parse_options({"reduce_type": "param", "param_sync_step": 5, "sync_on_cpu": True}).sync_on_cpu
    assert parse_options({"reduce_type": "grad_explicit"}).reduce_type == "grad_explicit"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"reduce_typ": "grad"}, "unknown option 'reduce_typ'; did you mean 'reduce_type'?"),
        ({"options": {"find_unused_parameter": True}}, "option 'find_unused_parameter'; did you mean 'find_unused_par"),
        ({"options": {"device_ids": [0]}}, "options['device_ids'] is set by seqtrain"),
        ({"options": {"broadcast_buffers": True}}, "options['broadcast_buffers']=True is not supported"),
        ({"options": [1]}, "options must be a dict of DistributedDataParallel arguments"),
        ({"class": dict}, "class must be DistributedDataParallel or a subclass of it"),
        ({"reduce_type": "param", "param_sync_step": 1, "options": {}}, "'options' only applies to reduce_type 'grad'"),
        ({"sync_on_cpu": True}, "'sync_on_cpu' only applies to reduce_type 'param'"),
        ({"reduce_type": "average"}, "reduce_type must be one of ('grad', 'grad_explicit', 'param'), got 'average'"),
        ({"reduce_type": "param"}, "reduce_type 'param' needs param_sync_step, a positive int (e.g. 100), got None"),
        ({"reduce_type": "param", "param_sync_step": 0}, "needs param_sync_step, a positive int"),
        ({"param_sync_step": 10}, "param_sync_step only applies to reduce_type 'param'"),
        ({"batch_size_is_global": 1}, "batch_size_is_global must be True or False, got 1"),
        ({"timeout_sec": -5}, "timeout_sec must be a positive number of seconds, got -5"),
        ({"backend": 3}, "backend must be a string"),
    ],
)
def test_mistakes_name_the_option(value: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_options(value)
    assert message in str(info.value)
    assert str(info.value).startswith("torch_distributed: ")


def test_unknown_option_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"options: reduce_type: .*timeout_sec: "):
        parse_options({"zzz": 1})
