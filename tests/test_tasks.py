"""The task table: names -> task classes, one-line errors, and no AVE import from training."""

from __future__ import annotations

import subprocess
import sys

import pytest

from avvp.config import load_config
from avvp.errors import ConfigError
from avvp.tasks import TASKS, build_task


def test_task_names_and_classes() -> None:
    assert TASKS.names() == ("llp", "ave")
    llp = build_task(load_config("smoke"), data_root=None)
    assert type(llp).__name__ == "LLPTask" and llp.name == "llp"
    assert len(llp.class_names) == 25
    ave = build_task(load_config("ave/psp_dch"), data_root=None)
    assert type(ave).__name__ == "AVETask" and ave.name == "ave"


def test_unknown_task_is_one_line_naming_the_key_and_choices() -> None:
    cfg = load_config("smoke", ["task=asr"])
    with pytest.raises(ConfigError, match=r"^task: unknown 'asr' \(one of llp, ave\)$"):
        build_task(cfg, data_root=None)


def test_missing_optional_dependency_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # A lazy entry that has not been resolved yet, whose module cannot be imported.
    monkeypatch.setitem(TASKS._entries, "ave", "avvp.ave.task:AVETask")
    monkeypatch.setitem(sys.modules, "avvp.ave.task", None)
    with pytest.raises(ConfigError, match=r"^task='ave' is not available in this installation"):
        build_task(load_config("ave/psp_dch"), data_root=None)


def test_training_and_checkpoint_code_do_not_import_the_ave_package() -> None:
    code = (
        "import sys, avvp.training.trainer, avvp.training.checkpoint, avvp.tasks\n"
        "print(sorted(m for m in sys.modules if m.startswith('avvp.ave')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_llp_loss_recipes_are_one_table() -> None:
    from avvp.training.llp_task import RECIPES, LLPTask

    assert RECIPES.names() == ("han", "valor", "leap", "mmcse")
    with pytest.raises(
        ConfigError, match=r"^loss\.recipe: unknown 'ave_dch' \(one of han, valor, leap, mmcse\)$"
    ):
        LLPTask(load_config("smoke", ["loss.recipe=ave_dch"]), data_root=None)


def test_report_of_another_task_is_a_type_error() -> None:
    from avvp.ave.task import AVEEvaluation

    llp = build_task(load_config("smoke"), data_root=None)
    foreign = AVEEvaluation(scores={"accuracy": 1.0}, counts={"correct": 1, "total": 1})
    with pytest.raises(TypeError, match="LLP task's evaluation"):
        llp.summary(foreign)
