"""Optimizer and scheduler tables: the objects each name builds, and one-line errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from avvp.config import load_config
from avvp.errors import ConfigError
from avvp.training.trainer import OPTIMIZERS, SCHEDULERS, make_optimizer, make_scheduler


def _optim(*overrides: str) -> object:
    return load_config("smoke", list(overrides)).optim


def test_optimizers_build_the_named_torch_optimizer() -> None:
    model = nn.Linear(3, 2)
    model.bias.requires_grad_(False)  # frozen parameters stay out of the optimizer
    expected = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    assert OPTIMIZERS.names() == tuple(expected)
    for name, cls in expected.items():
        opt = make_optimizer(
            model, _optim(f"optim.optimizer={name}", "optim.lr=0.01", "optim.weight_decay=0.1")
        )
        assert type(opt) is cls
        group = opt.param_groups[0]
        assert group["params"] == [model.weight]
        assert group["lr"] == 0.01 and group["weight_decay"] == 0.1
        if name == "sgd":
            assert group["momentum"] == 0.9
        else:
            assert group["betas"] == (0.9, 0.999)


def test_unknown_optimizer_names_the_key_and_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"^optim\.optimizer: unknown 'lion' \(one of adam, adamw, sgd\)$"
    ):
        make_optimizer(nn.Linear(2, 2), _optim("optim.optimizer=lion"))


def _rates(*overrides: str, epochs: int = 6) -> list[float]:
    opt = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    sched = make_scheduler(opt, _optim("optim.lr=0.1", *overrides), epochs)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def test_schedulers_follow_their_rules() -> None:
    assert SCHEDULERS.names() == ("step", "multistep", "warmup_cosine", "none")
    assert _rates("optim.scheduler=step", "optim.step_size=2", "optim.gamma=0.5") == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    )
    assert _rates(
        "optim.scheduler=multistep", "optim.milestones=[1,4]", "optim.gamma=0.1"
    ) == pytest.approx([0.1, 0.01, 0.01, 0.01, 0.001, 0.001])
    assert _rates("optim.scheduler=none") == pytest.approx([0.1] * 6)
    cosine = _rates("optim.scheduler=warmup_cosine", "optim.warmup_epochs=2", "optim.lr_min=0.0")
    assert cosine[:3] == pytest.approx([0.05, 0.1, 0.1])
    assert cosine[3] < cosine[2] and cosine[-1] < cosine[3]


def test_scheduler_errors_name_the_key() -> None:
    choices = r"\(one of step, multistep, warmup_cosine, none\)$"
    with pytest.raises(ConfigError, match=r"^optim\.scheduler: unknown 'cyclic' " + choices):
        _rates("optim.scheduler=cyclic")
    with pytest.raises(ConfigError, match=r"^optim\.scheduler=multistep needs optim\.milestones"):
        _rates("optim.scheduler=multistep")
