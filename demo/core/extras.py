"""The optional parts of the demo, each an extra of the installed package with its own dependencies."""
from __future__ import annotations

import importlib
from types import ModuleType

from demo.core.errors import UsageError


def require_extra(module: str, feature: str, extra: str) -> ModuleType:
    """``module``, or one line saying which extra installs it: the demo runs without its extras."""
    try:
        return importlib.import_module(module)
    except ImportError as missing:
        raise UsageError(f"{feature} needs the '{extra}' extra ({missing}): pip install '.[{extra}]' in the demo's "
                         "folder, or pip install -r requirements.txt") from None
