"""The config as typed, frozen settings, one object per concern, resolved once right after loading.

Every config key belongs to one concern (its registry group); `Settings.from_config` reads each key once, already
type- and range-checked by its declaration, into a field of the same name. A schedulable key becomes a
`Scheduled` value whose `.at(epoch, step)` resolves it (constant, `{epoch: value}`, or `f(*, epoch, step)`).
`seqtrain config CONFIG --epoch N` prints the settings of epoch N, concern by concern.

Code below the command line reads these fields rather than the Config by string, so a key's name, type, default
and checks live in one place (seqtrain/config/keys) and a renamed key breaks at import, not at run time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from seqtrain.config import schedule
from seqtrain.config.config import Config, describe_value
from seqtrain.config.registry import all_keys, get_key
from seqtrain.config.returnn_names import extern_data_from_num_io
from seqtrain.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Scheduled(Generic[T]):
    """A schedulable key's value as the config gives it: constant, `{epoch: value}` or `f(*, epoch, step)`."""

    key: str
    value: Any

    def at(self, epoch: int, step: int = 0) -> T:
        return schedule.value_at(get_key(self.key), self.value, epoch=epoch, step=step)

    @property
    def step_dependent(self) -> bool:
        """Only a function can change within an epoch; the value is then asked for every step."""
        return schedule.is_step_dependent(get_key(self.key), self.value)


class Concern:
    """One concern's settings; `from_config` reads only its own keys (cheaper than all of `Settings`)."""

    @classmethod
    def from_config(cls, config: Config) -> Any:
        return cls(**{f.name: _read(config, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class RunSettings(Concern):
    """The run: its files and checkpoints, epochs, seed, device, logging."""

    checkpoint_interval_minutes: float | None
    checkpoint_interval_steps: int | None
    cleanup_old_models: bool | dict[str, Any]
    device: str | None
    import_model_train_epoch1: str | None
    keep_freed_memory: bool
    learning_rate_file: str | None
    load: str | None
    load_epoch: int | None
    log_verbosity: int
    model: str | None
    num_epochs: int
    random_seed: int
    save_interval: int
    start_epoch: int | str
    stop_on_nonfinite_train_score: bool
    task: str
    tensorboard: bool


@dataclass(frozen=True)
class DataSettings(Concern):
    """Datasets, `extern_data`, batching, chunking and loading."""

    batch_size: Scheduled[int | dict[str, int]]
    batching: str | None
    chunking: str | int | tuple | dict[str, int] | None
    data_loader_timeout: float
    dev: Any
    eval: Any
    eval_datasets: dict[str, Any] | None
    extern_data: dict[str, dict[str, Any]] | None
    max_seq_length: Scheduled[int | dict[str, int] | None]
    max_seqs: Scheduled[int]
    min_chunk_size: int | dict[str, int]
    min_seq_length: Scheduled[int | dict[str, int] | None]
    num_inputs: int | None
    num_outputs: int | dict[str, Any] | None
    num_workers: int
    openmp_wait_policy: str | None
    test_datasets: dict[str, Any] | None
    train: Any

    @classmethod
    def from_config(cls, config: Config) -> DataSettings:
        """RETURNN's legacy spellings folded in, so nothing downstream reads them: `num_inputs`/`num_outputs`
        become `extern_data` (when it is not given), the `eval` dataset joins `eval_datasets` as "eval"."""
        data: DataSettings = super().from_config(config)
        if data.extern_data is None and (data.num_inputs is not None or data.num_outputs is not None):
            data = dataclasses.replace(data, extern_data=extern_data_from_num_io(data.num_inputs, data.num_outputs))
        if data.eval is not None:
            if "eval" in (data.eval_datasets or {}):
                raise ConfigError("both `eval` and eval_datasets['eval'] are set; keep one")
            data = dataclasses.replace(data, eval_datasets={**(data.eval_datasets or {}), "eval": data.eval})
        return data


@dataclass(frozen=True)
class ModelSettings(Concern):
    """The model and the functions seqtrain calls (hooks)."""

    epoch_end: Callable[..., Any]
    epoch_start: Callable[..., Any]
    forward_step: Callable[..., Any]
    get_model: Callable[..., Any]
    get_network: Callable[..., Any]
    model_outputs: dict[str, dict[str, Any]] | None
    network: dict[str, Any] | None
    train_step: Callable[..., Any]


@dataclass(frozen=True)
class OptimizerSettings(Concern):
    """The optimizer, learning-rate control and the per-step update (clipping, noise, accumulation)."""

    accum_grad_multiple_step: Scheduled[int]
    dynamic_learning_rate: Callable[..., Any]
    gradient_clip: Scheduled[float]
    gradient_clip_global_norm: Scheduled[float]
    gradient_clip_norm: Scheduled[float]
    gradient_nan_inf_filter: bool
    gradient_noise: Scheduled[float]
    learning_rate: Scheduled[float]
    learning_rate_control: str
    learning_rate_control_error_measure: str | list[str] | None
    learning_rate_control_min_num_epochs_per_new_lr: int
    learning_rate_control_relative_error_relative_lr: bool
    learning_rate_decay: float | Callable[..., Any] | None
    learning_rate_step_schedule: dict[str, Any] | None
    learning_rates: list[float] | dict[int, float] | None
    min_learning_rate: float
    newbob_error_threshold: float
    newbob_learning_rate_decay: float | Callable[..., Any]
    newbob_learning_rate_growth: float | Callable[..., Any]
    newbob_multi_num_epochs: int
    newbob_multi_update_interval: int | None
    newbob_relative_error_div_by_old: bool
    newbob_relative_error_grow_threshold: float | None
    newbob_relative_error_threshold: float
    optimizer: str | dict[str, Any] | type | None
    optimizer_epsilon: float | None
    pretrain_learning_rate: float | None
    use_learning_rate_control_always: bool


@dataclass(frozen=True)
class NetworkSettings(Concern):
    """Regularization over all parameters (L2, variational noise), own layer classes, preloading."""

    L2: Scheduled[float]
    network_layer_classes: dict[str, type] | None
    param_variational_noise: Scheduled[float]
    preload_from_files: dict[str, dict[str, Any]] | None
    target: str


@dataclass(frozen=True)
class PrecisionSettings(Concern):
    """Mixed precision and torch.compile."""

    grad_scaler: dict[str, Any] | None
    torch_amp: str | dict[str, Any] | None
    torch_amp_eval: bool
    torch_compile: bool | dict[str, Any]


@dataclass(frozen=True)
class PretrainSettings(Concern):
    """Pretraining: nets that grow per epoch, parameter copy, trainable subsets."""

    copy_optimizer_state: str
    copy_param_grow_init: str
    copy_param_grow_scale: float | str
    copy_param_grow_slice: str
    copy_param_map: dict[str, str | None] | None
    copy_param_mode: str
    frozen_params: Scheduled[list[str] | None]
    pretrain: bool | str | dict[str, Any] | None
    pretrain_construction_algo: Any
    pretrain_copy_output_layer: bool | str | None
    pretrain_greedy: bool | None
    pretrain_repetitions: int | list[int] | dict[Any, int] | None
    trainable_params: Scheduled[list[str] | None]


@dataclass(frozen=True)
class DistributedSettings(Concern):
    """Multi-process training and deterministic algorithms."""

    deterministic_train: bool | str
    torch_distributed: dict[str, Any] | None


@dataclass(frozen=True)
class PipelineSettings(Concern):
    """Multi-stage runs."""

    pipeline: list[dict[str, Any]] | None


@dataclass(frozen=True)
class RecogSettings(Concern):
    """`seqtrain recog`: decoder, its options, what to score."""

    forward_batch_size: int | None
    model_average_epochs: int
    output_file: str | None
    recog_beam_size: int | None
    recog_beam_threshold: float
    recog_blank_index: int | None
    recog_decoder: str
    recog_lexicon: list[str] | str | None
    recog_lm: str | None
    recog_lm_weight: float
    recog_max_symbols_per_frame: int
    recog_output: str
    recog_prior_file: str | None
    recog_prior_scale: float
    recog_score_groups: dict[str, str] | None
    recog_target: str
    recog_transducer: str | None
    recog_word_penalty: float


@dataclass(frozen=True)
class AlignmentSettings(Concern):
    """`seqtrain align`: topology, mode, output."""

    align_blank_index: int | None
    align_frame_subsampling: int
    align_mode: str
    align_optional_silence: bool
    align_output: str
    align_output_key: str
    align_silence: bool
    align_silence_index: int | None
    align_silence_weight: float
    align_skip_infeasible: bool
    align_skip_within_label: bool
    align_states_per_label: int
    align_target: str
    align_transition_scores: dict[str, float] | None
    align_word_separator: int | str | None


# registry group -> (field of Settings, its class)
_CONCERNS: dict[str, tuple[str, type[Concern]]] = {
    "core": ("run", RunSettings),
    "data": ("data", DataSettings),
    "model": ("model", ModelSettings),
    "optim": ("optimizer", OptimizerSettings),
    "nn": ("network", NetworkSettings),
    "precision": ("precision", PrecisionSettings),
    "pretrain": ("pretrain", PretrainSettings),
    "distributed": ("distributed", DistributedSettings),
    "pipeline": ("pipeline", PipelineSettings),
    "recog": ("recog", RecogSettings),
    "align": ("align", AlignmentSettings),
}


@dataclass(frozen=True)
class Settings:
    """All settings of a run, by concern."""

    run: RunSettings
    data: DataSettings
    model: ModelSettings
    optimizer: OptimizerSettings
    network: NetworkSettings
    precision: PrecisionSettings
    pretrain: PretrainSettings
    distributed: DistributedSettings
    pipeline: PipelineSettings
    recog: RecogSettings
    align: AlignmentSettings

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        return cls(**{field: concern.from_config(config) for field, concern in _CONCERNS.values()})

    def describe(self, config: Config, *, epoch: int | None = None, step: int = 0) -> str:
        """Every setting, concern by concern, resolved for `epoch` when given, with where its value came from."""
        lines = [f"# seqtrain settings{'' if epoch is None else f' for epoch {epoch}'}"]
        if config.path is not None:
            lines.append(f"# file: {config.path}")
        for field, _ in _CONCERNS.values():
            concern = getattr(self, field)
            lines.append(f"\n[{field}]  # {type(concern).__name__}")
            for f in dataclasses.fields(concern):
                value = getattr(concern, f.name)
                if isinstance(value, Scheduled):
                    value = value.at(epoch, step) if epoch is not None else value.value
                origin = "override" if f.name in config.overrides else "config" if config.is_set(f.name) else "default"
                lines.append(f"{f.name} = {describe_value(value)}  # {origin}")
        return "\n".join(lines) + "\n"


def _read(config: Config, name: str) -> Any:
    key = get_key(name)
    value = config.get(name)
    return Scheduled(name, value) if key.schedulable and not key.hook else value


def concern_of(key: str) -> str:
    """The `Settings` field that holds `key`."""
    return _CONCERNS[get_key(key).group][0]


def keys_by_concern() -> dict[str, list[str]]:
    result: dict[str, list[str]] = {field: [] for field, _ in _CONCERNS.values()}
    for key in all_keys():
        result[_CONCERNS[key.group][0]].append(key.name)
    return result
