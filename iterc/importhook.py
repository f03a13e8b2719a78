"""`import mymethod` for `mymethod.iter`: a finder at the end of `sys.meta_path`.

    import iterc
    iterc.install_import_hook()
    import mymethod                       # mymethod.iter, somewhere on sys.path
    opt = mymethod.sgd_momentum.numpy(lr=0.1)
    mymethod.METHODS                      # {"sgd_momentum": <LoadedMethod>, ...}

Order: the finder is appended to `sys.meta_path`, after Python's own finders, so it is
asked only when no Python module of that name exists anywhere: a `.py` file, a package, an
extension module or a namespace package (a bare directory) of the same name wins, wherever
it sits on `sys.path`. Among `.iter` files, the first on `sys.path` wins (for `import
pkg.name`, the first in the package's `__path__`).

Importing checks the file (and what it `use`s); a file with errors raises `IterImportError`,
an ImportError whose message is the rendered diagnostics. Compiling waits for the first
`.numpy()` and goes through the compile cache. `importlib.reload` re-checks the file.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path

SUFFIX = ".iter"


class IterImportError(ImportError):
    """A `.iter` module with errors; `.diagnostics` holds them."""

    def __init__(self, message: str, diagnostics=(), **kw):
        super().__init__(message, **kw)
        self.diagnostics = list(diagnostics)


class IterLoader(importlib.abc.Loader):
    def __init__(self, path: str):
        self.path = path

    def create_module(self, spec):
        return None                      # the default module

    def exec_module(self, module) -> None:
        from .api import LoadedMethod, _checked
        from .diagnostics import render_all

        path = Path(self.path)
        result, _ = _checked(path)
        if not result.ok:
            raise IterImportError(f"cannot import `{module.__name__}` from {path}: it has errors\n"
                                  + render_all(result.diagnostics, color=False),
                                  result.diagnostics, name=module.__name__, path=str(path))
        methods = {m.name: LoadedMethod(path, m.name, m.kind, m) for m in result.module.methods}
        module.__dict__.update(methods)
        module.METHODS = methods
        docs = [m.summary for m in result.module.methods if m.summary]
        module.__doc__ = f"iterc methods from {path.name}" + ("".join(f"\n- {d}" for d in docs))


class IterFinder(importlib.abc.MetaPathFinder):
    """Finds NAME.iter on sys.path (or in a package's __path__)."""

    def find_spec(self, fullname: str, path=None, target=None):
        name = fullname.rpartition(".")[2]
        for entry in (sys.path if path is None else path):
            if not isinstance(entry, str):
                continue
            folder = entry or os.getcwd()
            candidate = os.path.join(folder, name + SUFFIX)
            if os.path.isfile(candidate):
                candidate = os.path.abspath(candidate)
                return importlib.util.spec_from_file_location(fullname, candidate, loader=IterLoader(candidate),
                                                              submodule_search_locations=None)
        return None

    def __repr__(self) -> str:
        return "<iterc.importhook.IterFinder>"


def _installed() -> list:
    # By name, not isinstance: a reloaded iterc.importhook must still see its old finder.
    return [f for f in sys.meta_path
            if type(f).__name__ == "IterFinder" and type(f).__module__ == __name__]


def install_import_hook() -> IterFinder:
    """Let `import NAME` load NAME.iter from sys.path; idempotent. Returns the finder."""
    found = _installed()
    if found:
        return found[0]
    finder = IterFinder()
    sys.meta_path.append(finder)
    return finder


def uninstall_import_hook() -> bool:
    """Remove the finder; whether one was installed. Modules already imported stay."""
    found = _installed()
    for f in found:
        sys.meta_path.remove(f)
    return bool(found)

