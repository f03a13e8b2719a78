"""iterc.install_import_hook(): `import mymethod` finds mymethod.iter on sys.path."""
from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

import iterc
from iterc.api import LoadedMethod
from iterc.importhook import IterImportError

MOMENTUM = '''\
optimizer sgd_momentum:
    """Heavy-ball SGD."""
    hyper lr: real = 0.01 where lr > 0
    hyper beta: real = 0.9 where 0 <= beta < 1
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    step:
        m <- beta * m + g
        x <- x - lr * m
    converges heuristic

optimizer plain:
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g
    converges heuristic
'''

BROKEN = '''\
optimizer broken:
    param x: real[...]
    step:
        x <- x - nope
    converges heuristic
'''


@pytest.fixture
def hook(tmp_path, monkeypatch):
    """The hook installed, tmp_path on sys.path, and the modules imported here forgotten after."""
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    iterc.install_import_hook()
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
    importlib.invalidate_caches()


def finders() -> int:
    return sum(type(f).__name__ == "IterFinder" for f in sys.meta_path)


def test_import_a_iter_file(hook):
    (hook / "mymethod.iter").write_text(MOMENTUM)
    import mymethod
    assert isinstance(mymethod.sgd_momentum, LoadedMethod)
    assert set(mymethod.METHODS) == {"sgd_momentum", "plain"}
    assert mymethod.METHODS["plain"] is mymethod.plain
    assert mymethod.__file__ == str(hook / "mymethod.iter")
    assert "Heavy-ball SGD." in mymethod.__doc__

    opt = mymethod.sgd_momentum.numpy(lr=0.5)
    x = np.array([1.0, 2.0])
    x, _ = opt.step(x, opt.init(x), np.array([1.0, 1.0]))
    np.testing.assert_allclose(x, [0.5, 1.5])

    from mymethod import plain
    assert plain.hypers == ["lr"]


def test_errors_raise_import_error_with_the_diagnostics(hook):
    (hook / "broken_method.iter").write_text(BROKEN)
    with pytest.raises(ImportError) as info:
        import broken_method  # noqa: F401
    assert isinstance(info.value, IterImportError)
    assert info.value.name == "broken_method"
    message = str(info.value)
    assert "error[E" in message and "nope" in message and "broken_method.iter:4:" in message
    assert info.value.diagnostics and all(d.code.startswith(("E", "W")) for d in info.value.diagnostics)
    assert "broken_method" not in sys.modules


def test_python_modules_win(hook, tmp_path_factory, monkeypatch):
    (hook / "twin.iter").write_text(MOMENTUM)
    (hook / "twin.py").write_text("KIND = 'python'\n")
    # a .py further down sys.path still wins over a .iter earlier on it
    later = tmp_path_factory.mktemp("later")
    (later / "far_twin.py").write_text("KIND = 'python'\n")
    (hook / "far_twin.iter").write_text(MOMENTUM)
    monkeypatch.syspath_prepend(str(hook))
    sys.path.append(str(later))
    try:
        import far_twin
        import twin
    finally:
        sys.path.remove(str(later))
    assert twin.KIND == "python" and far_twin.KIND == "python"
    import json
    assert json.__file__.endswith(".py")                    # the stdlib is untouched


def test_submodule_of_a_package(hook):
    pkg = hook / "methods_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "heavy.iter").write_text(MOMENTUM)
    from methods_pkg import heavy
    assert heavy.__name__ == "methods_pkg.heavy"
    assert heavy.sgd_momentum.numpy().hypers.lr == 0.01


def test_install_is_idempotent_and_uninstall_removes_it(hook):
    assert finders() == 1
    iterc.install_import_hook()
    iterc.install_import_hook()
    assert finders() == 1
    assert sys.meta_path[-1] is iterc.install_import_hook()          # after Python's finders
    (hook / "gone_after.iter").write_text(MOMENTUM)
    assert iterc.uninstall_import_hook() is True
    assert finders() == 0
    assert iterc.uninstall_import_hook() is False
    with pytest.raises(ModuleNotFoundError):
        import gone_after  # noqa: F401


def test_missing_module_is_still_module_not_found(hook):
    with pytest.raises(ModuleNotFoundError):
        import no_such_iter_module  # noqa: F401


def test_reload_sees_an_edit(hook):
    path = hook / "editable.iter"
    path.write_text(MOMENTUM)
    import editable
    assert set(editable.METHODS) == {"sgd_momentum", "plain"}
    path.write_text(MOMENTUM.split("\noptimizer plain:")[0])
    importlib.reload(editable)
    assert set(editable.METHODS) == {"sgd_momentum"}


def test_a_bare_directory_of_that_name_wins_as_a_namespace_package(hook):
    # Documented order: Python's finders, namespace packages included, come first.
    (hook / "nsname").mkdir()
    (hook / "nsname.iter").write_text(MOMENTUM)
    import nsname
    assert not hasattr(nsname, "METHODS") and nsname.__spec__.origin in (None, "namespace")
