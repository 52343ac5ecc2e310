"""Shared pieces for converting reference (official) checkpoints into avvp state dicts.

* ``read_reference_state_dict(path)``: ``torch.load(weights_only=True)``, unwrapping common
  wrappers (``{"model": sd}``, ``{"state_dict": sd}``, ...) and DataParallel ``module.`` prefixes.
* ``Rule`` / ``apply_rules``: a conversion is a list of rules, each filling one avvp tensor from
  one reference key (copy) or several (concatenated along ``dim``, e.g. separate q/k/v
  ``Linear`` weights -> a packed ``in_proj_weight``). ``apply_rules`` checks every reference key:
  a used key that is missing or has the wrong shape, or a key that is neither used nor listed as
  ignorable (dead modules, aliases), is a ``DataError`` naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from avvp.errors import DataError
from avvp.torch_io import read_torch_file

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "network")


def unwrap_state_dict(obj: object, *, source: str = "state dict") -> dict[str, Tensor]:
    """Find the tensor mapping inside common checkpoint wrappers; strip ``module.`` prefixes."""
    for _ in range(3):
        if isinstance(obj, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping):
        raise DataError(
            f"{source}: expected a state dict (mapping of name -> tensor), got {type(obj).__name__}"
        )
    out: dict[str, Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise DataError(f"{source}: non-string key {key!r}")
        if not isinstance(value, Tensor):
            raise DataError(f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor")
        name = key
        while name.startswith("module."):
            name = name[len("module.") :]
        if name in out:
            raise DataError(f"{source}: key {name!r} appears twice (with and without 'module.')")
        out[name] = value
    if not out:
        raise DataError(f"{source}: the state dict is empty")
    return out


def read_reference_state_dict(path: Path) -> dict[str, Tensor]:
    """Load a reference checkpoint (``torch.save`` file) as a flat ``{key: tensor}`` dict."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    obj = read_torch_file(path, what="as a torch checkpoint")
    return unwrap_state_dict(obj, source=str(path))


@dataclass(frozen=True)
class Rule:
    """avvp ``target`` = reference ``sources`` (one: copied; several: concatenated on ``dim``)."""

    target: str
    sources: tuple[str, ...]
    dim: int = 0


def linear_rules(target: str, source: str) -> list[Rule]:
    """weight and bias of one Linear / Conv / LayerNorm."""
    return [
        Rule(f"{target}.weight", (f"{source}.weight",)),
        Rule(f"{target}.bias", (f"{source}.bias",)),
    ]


def packed_rules(target: str, sources: Sequence[str]) -> list[Rule]:
    """Separate ``Linear`` layers -> one (concatenated) ``Linear`` named ``target``."""
    return [
        Rule(f"{target}.weight", tuple(f"{s}.weight" for s in sources)),
        Rule(f"{target}.bias", tuple(f"{s}.bias" for s in sources)),
    ]


def count_indices(state_dict: Mapping[str, Tensor], prefix: str) -> int:
    """Number of consecutive ``prefix<i>.`` indices present (0 when none)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for k in state_dict if (m := pattern.match(k))}
    n = 0
    while n in found:
        n += 1
    return n


def apply_rules(
    arch: str,
    state_dict: Mapping[str, Tensor],
    rules: Iterable[Rule],
    target_shapes: Mapping[str, torch.Size],
    ignore: Sequence[str],
) -> dict[str, Tensor]:
    """Convert ``state_dict`` with ``rules``; ``target_shapes`` are the avvp model's shapes;
    ``ignore``: regexes (``re.match``) of reference keys that are dead or aliases."""
    ignored = [re.compile(p) for p in ignore]
    rules = list(rules)
    used = {s for r in rules for s in r.sources}
    for key in state_dict:
        if key not in used and not any(p.match(key) for p in ignored):
            raise DataError(f"{arch}: unexpected key {key!r} in the reference state dict")
    out: dict[str, Tensor] = {}
    for rule in rules:
        shape = target_shapes[rule.target]
        part = list(shape)
        if len(rule.sources) > 1:
            part[rule.dim] //= len(rule.sources)
        pieces = []
        for source in rule.sources:
            if source not in state_dict:
                raise DataError(f"{arch}: missing key {source!r} in the reference state dict")
            tensor = state_dict[source]
            if list(tensor.shape) != part:
                raise DataError(
                    f"{arch}: key {source!r} has shape {tuple(tensor.shape)}, "
                    f"expected {tuple(part)}"
                )
            pieces.append(tensor.detach().to(torch.float32))
        out[rule.target] = pieces[0].clone() if len(pieces) == 1 else torch.cat(pieces, rule.dim)
    return out


def target_shapes_of(model_config: Mapping[str, object]) -> dict[str, torch.Size]:
    """Shapes of the avvp state dict that ``model_config`` builds (built on the meta device,
    so no memory is allocated)."""
    from avvp.models.factory import build_model

    with torch.device("meta"):
        model = build_model(model_config)
    return {k: v.shape for k, v in model.state_dict().items()}
