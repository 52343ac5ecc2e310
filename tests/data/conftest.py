"""Makes tests/data/toy.py importable as ``avvp_tests_data_toy`` (a repo-unique name, since the
suite runs in importlib mode without packages); conftest runs before the test modules import it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "avvp_tests_data_toy"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("toy.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)
