"""Run configuration: one YAML preset per method in ``configs/``, ``key=value`` overrides.

The ``model`` section is free-form here and validated by :func:`avvp.models.factory.build_model`
(each builder's keyword arguments are its schema); every other section is a typed dataclass, so a
misspelt key or a wrong type is an error that names the key.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from avvp.errors import ConfigError

# A source checkout (editable install) has configs/ at the repository root; a wheel carries the
# same presets inside the package.
_SOURCE_CONFIGS = Path(__file__).resolve().parents[2] / "configs"
CONFIG_DIR = _SOURCE_CONFIGS if _SOURCE_CONFIGS.is_dir() else Path(__file__).parent / "configs"


@dataclass
class DataConfig:
    features: list[str] = field(default_factory=lambda: ["audio", "frames", "clips"])
    pseudo_labels: bool = False
    packed: bool | None = None  # None: packed when a manifest covers the features


@dataclass
class LossConfig:
    recipe: str = "han"  # han | valor | leap | mmcse
    # HAN's label smoothing of the visual video-level target: y * (1 - eps) + eps / 2.
    visual_smoothing: float = 0.1
    audio_smoothing: float = 0.0
    modality_weight: float = 1.0  # VALOR: BCE of the modality video probs vs video pseudo labels
    segment_weight: float = 1.0  # LEAP: weight of the segment-level BCE terms
    avss_weight: float = 1.0
    avss_target: str = "eiou"  # eiou (paper) | reference (LEAP code)
    rec_weight: float = 1.0
    ort_weight: float = 0.1
    ec_weight: float = 0.1
    # MM-CSE's audio/visual BCE: "segment" (its code: segment logits vs segment pseudo labels) or
    # "video" (the paper's wording: video-level probabilities vs video-level pseudo labels).
    mmcse_modality_target: str = "segment"


@dataclass
class OptimConfig:
    optimizer: str = "adam"  # adam | adamw | sgd (momentum = betas[0])
    lr: float = 3e-4
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    grad_clip: float | None = None
    scheduler: str = "step"  # step (StepLR) | multistep | warmup_cosine (VALOR) | none
    step_size: int = 10
    gamma: float = 0.1
    milestones: list[int] = field(default_factory=list)  # multistep: epochs where lr *= gamma
    warmup_epochs: int = 0
    lr_min: float = 0.0


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 16
    eval_batch_size: int = 128
    amp: bool = True  # bf16 mixed precision on CUDA
    cpu_amp: bool = False  # bf16 mixed precision on the CPU (native bf16 units: ~2x faster)
    select: str = "segment/type@av"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # torch intra-op threads on CPU (None: torch's default)
    eval_test: bool = True  # evaluate the best checkpoint on the test split at the end


@dataclass
class EvalConfig:
    gate: str | None = None  # None: the model's own rule; pooled | or | modality | mmcse
    threshold: float = 0.5


@dataclass
class Config:
    name: str = "run"
    seed: int = 1
    task: str = "llp"  # llp | ave
    model: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    # Free-form options of the AVE localization task (read by avvp.ave.task.AVETask).
    ave: dict[str, Any] = field(default_factory=dict)


#: Keys that older configs and checkpoints hold and that avvp now ignores: key -> why.
RETIRED_KEYS: dict[str, str] = {
    # Training and evaluation fetch whole batches in the main process (LLPDataset.get_batch);
    # the key never reached a DataLoader.
    "data.num_workers": "batches are read in the main process",
}


def drop_retired_keys(layer: DictConfig, *, source: str | None) -> DictConfig:
    """Remove :data:`RETIRED_KEYS` from ``layer`` (in place; returned for chaining).

    Each one found is a one-line ``FutureWarning`` naming ``source`` (a YAML file or the command
    line); ``source=None`` drops them silently (a config saved by an older avvp, e.g. in a
    checkpoint: nothing for the user to fix).
    """
    for key, why in RETIRED_KEYS.items():
        section, name = key.split(".")
        node = layer.get(section)
        if isinstance(node, DictConfig) and name in node:
            del node[name]
            if source is not None:
                warnings.warn(
                    f"{source}: {key} is ignored ({why}); remove it", FutureWarning, stacklevel=3
                )
    return layer


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A preset name (``mmpyr_leap``), a path relative to ``configs/``, or any YAML path."""
    path = Path(name_or_path)
    candidates = [path]
    if not path.suffix:
        candidates.append(path.with_suffix(".yaml"))
    candidates += [CONFIG_DIR / c for c in list(candidates)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"{name_or_path}: no such config file or preset (looked in {CONFIG_DIR})")


def _yaml_where(exc: yaml.YAMLError) -> str:
    """``:LINE:COLUMN`` (1-based) of a YAML error, where the parser knows it."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{context}, {problem}" if context else str(problem)
    return str(exc).splitlines()[0]


def load_config(
    name_or_path: str | Path | None = None, overrides: Sequence[str] = ()
) -> DictConfig:
    """Merge defaults, the YAML preset and ``key=value`` overrides into a validated config."""
    config = OmegaConf.structured(Config)
    layers: list[tuple[str, DictConfig]] = []
    if name_or_path is not None:
        path = resolve_config_path(name_or_path)
        try:
            loaded = OmegaConf.load(path)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{path}{_yaml_where(exc)}: not valid YAML ({_yaml_problem(exc)})"
            ) from None
        except (OmegaConfBaseException, OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from None
        if not isinstance(loaded, DictConfig):
            raise ConfigError(f"{path}: a config must be a mapping at the top level")
        layers.append((str(path), loaded))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
    if overrides:
        try:
            layers.append(("command line", OmegaConf.from_dotlist(list(overrides))))
        except OmegaConfBaseException as exc:
            raise ConfigError(f"command-line overrides: {exc}") from None
    for source, layer in layers:
        drop_retired_keys(layer, source=source)
        try:
            config = OmegaConf.merge(config, layer)
        except OmegaConfBaseException as exc:
            key = getattr(exc, "full_key", None)
            where = f" (key {key})" if key else ""
            message = str(exc).splitlines()[0]
            raise ConfigError(f"{source}{where}: {message}") from None
    assert isinstance(config, DictConfig)
    try:
        OmegaConf.resolve(config)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot resolve config interpolations: {exc}") from None
    check_values(config)
    return config


# (key, smallest allowed value, wording): values outside fail at load time, not deep in torch.
_LOWER_BOUNDS: tuple[tuple[str, float, str], ...] = (
    ("optim.lr", 0, "must not be negative"),
    ("optim.weight_decay", 0, "must not be negative"),
    ("optim.step_size", 1, "must be a positive number of epochs"),
    ("optim.warmup_epochs", 0, "must not be negative"),
    ("train.epochs", 1, "must be at least 1"),
    ("train.batch_size", 1, "must be at least 1"),
    ("train.eval_batch_size", 1, "must be at least 1"),
)


def check_values(config: DictConfig) -> None:
    """One-line errors for values of the typed sections that no run can use."""
    for key, low, wording in _LOWER_BOUNDS:
        value = OmegaConf.select(config, key)
        if value is not None and value < low:
            raise ConfigError(f"{key}={value}: {wording}")
    if config.optim.scheduler == "warmup_cosine" and config.optim.lr == 0:
        raise ConfigError("optim.lr=0: warmup_cosine scales relative to lr, which must be > 0")


def to_container(config: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(config, resolve=True)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}


def save_config(config: DictConfig, path: Path) -> None:
    path.write_text(OmegaConf.to_yaml(config, resolve=True))
