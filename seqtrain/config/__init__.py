"""Config files, the key registry, overrides, and schedule resolution."""

from seqtrain.config.config import Config
from seqtrain.config.loader import load_config, parse_override
from seqtrain.config.registry import all_keys, declare, get_key

__all__ = ["Config", "all_keys", "declare", "get_key", "load_config", "parse_override"]
