"""Runnable examples the docs site includes: every one is run against real PostgreSQL by
`tests/test_docs_src.py`, so what a page shows is what the code does.

An example is a module with `async def observe(database_url) -> dict`: it runs the code the
page includes and returns what happened as plain data. `python -m docs_src` runs them all.
"""

import importlib
import pkgutil
from pathlib import Path


def example_names() -> list[str]:
    """Dotted names of every module under `docs_src` that defines `observe`."""
    names = []
    for module_info in pkgutil.walk_packages([str(Path(__file__).parent)], prefix=f"{__name__}."):
        if not module_info.ispkg and hasattr(importlib.import_module(module_info.name), "observe"):
            names.append(module_info.name)
    return sorted(names)
