"""Registry: lookup, lazy entries, one-line errors naming the config key and the choices."""

from __future__ import annotations

import pytest

from avvp.errors import ConfigError
from avvp.registry import Registry


def test_lookup_in_registration_order() -> None:
    reg: Registry[type] = Registry("thing")
    reg.add("a", int)

    @reg.register("b")
    class B:
        pass

    assert reg.get("a") is int
    assert reg.get("b") is B
    assert reg.names() == ("a", "b")
    assert "a" in reg and "c" not in reg
    assert list(reg) == ["a", "b"] and len(reg) == 2


def test_lazy_entry_is_imported_on_first_use() -> None:
    reg: Registry[object] = Registry("thing")
    reg.add("join", "os.path:join")
    import os.path

    assert reg.get("join") is os.path.join


def test_unknown_name_names_the_key_and_choices() -> None:
    reg: Registry[type] = Registry("optimizer")
    reg.add("adam", int)
    reg.add("sgd", float)
    with pytest.raises(
        ConfigError, match=r"^optim\.optimizer: unknown 'lion' \(one of adam, sgd\)$"
    ):
        reg.get("lion", where="optim.optimizer")
    with pytest.raises(ConfigError, match=r"^optimizer: unknown None"):
        reg.get(None)


def test_missing_optional_module_is_a_config_error() -> None:
    reg: Registry[object] = Registry("task")
    reg.add("ghost", "avvp_no_such_module:Task")
    with pytest.raises(ConfigError, match=r"^task='ghost' is not available in this installation"):
        reg.get("ghost", where="task")


def test_bad_registrations_are_programming_errors() -> None:
    reg: Registry[object] = Registry("thing")
    reg.add("a", "os:sep")
    with pytest.raises(ValueError, match="twice"):
        reg.add("a", "os:sep")
    with pytest.raises(ValueError, match="module:attribute"):
        reg.add("b", "os.sep")
