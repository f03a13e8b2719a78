"""The public Python API: check, compile and load `.iter` methods.

The pipeline reads as one function of named passes (`_pipeline`); each stage is a folder:
syntax (parse) -> check (names, types, shapes) -> ir (lower) -> backends (emit source).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .diagnostics import Diagnostic, DiagnosticError, error
from .syntax.source import Source


@dataclass
class CheckResult:
    diagnostics: list[Diagnostic]
    module: object = None            # iterc.check.CheckedModule when there are no errors
    source: Optional[Source] = None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def stdlib_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / "stdlib", here.parent / "stdlib"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the iterc standard library (stdlib/) is not installed")


def read_source(path: str | Path) -> tuple[Optional[Source], list[Diagnostic]]:
    """Read a file; a missing file, a directory or bad bytes become diagnostics."""
    from .syntax.parser import decode

    p = Path(path)
    shown = str(path)
    try:
        if p.is_dir():
            return None, [error("E0008", f"`{shown}` is a directory, not a .iter file", None,
                                hint="pass the .iter files inside it")]
        data = p.read_bytes()
    except FileNotFoundError:
        return None, [error("E0008", f"no such file: `{shown}`", None)]
    except OSError as exc:
        return None, [error("E0008", f"cannot read `{shown}`: {exc.strerror or exc}", None)]
    return decode(shown, data)


def check_source(source: Source) -> CheckResult:
    from .syntax.parser import parse_source
    from .check import check_module

    module, diags = parse_source(source)
    if module is None:
        return CheckResult(diags, None, source)
    checked, more = check_module(module)
    diags = sorted(diags + more, key=Diagnostic.sort_key)
    return CheckResult(diags, checked if not any(d.is_error for d in diags) else None, source)


def check_text(text: str, path: str = "<string>") -> CheckResult:
    from .syntax.parser import decode
    source, diags = decode(path, text.encode("utf-8", errors="surrogatepass"))
    if source is None:
        return CheckResult(diags)
    return check_source(source)


def check_file(path: str | Path) -> CheckResult:
    source, diags = read_source(path)
    if source is None:
        return CheckResult(diags)
    return check_source(source)


def compile_ir_text(path: str | Path) -> str:
    """The lowered IR of every method in a file, as text (`iterc compile --emit ir`)."""
    result = check_file(path)
    if not result.ok:
        raise DiagnosticError(result.diagnostics)
    from .ir import lower_module, optimize_module
    from .ir.printer import module_text
    from .ir.verify import verify_method, verify_module
    ir = lower_module(result.module)
    verify_module(ir)
    return module_text(optimize_module(ir, verify=verify_method))


def compile_file(path: str | Path, target: str = "numpy") -> str:
    """Python source of the compiled module; raises DiagnosticError on errors."""
    result = check_file(path)
    if not result.ok:
        raise DiagnosticError(result.diagnostics)
    import os

    from .backends import emit
    from .ir import lower_module
    ir = lower_module(result.module)
    if os.environ.get("ITERC_VERIFY") == "1":
        from .ir.verify import verify_module
        verify_module(ir)
    return emit(ir, target)


# ---------------------------------------------------------------- load

def _resolve_method_file(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".iter" or p.exists():
        if not p.is_file():
            raise FileNotFoundError(f"no .iter file at `{name_or_path}`")
        return p
    root = stdlib_dir()
    dotted = str(name_or_path).replace("/", ".")
    candidates = sorted(root.rglob(f"{dotted.split('.')[-1]}.iter"))
    exact = root.joinpath(*dotted.split(".")).with_suffix(".iter")
    if exact.is_file():
        return exact
    if candidates:
        return candidates[0]
    import difflib
    names = sorted(q.stem for q in root.rglob("*.iter"))
    close = difflib.get_close_matches(str(name_or_path), names, n=1)
    hint = f"; did you mean `{close[0]}`?" if close else f"; stdlib methods: {', '.join(names)}"
    raise LookupError(f"no stdlib method `{name_or_path}`{hint}")


_COMPILED: dict[tuple, object] = {}


def _compiled_module(path: Path, target: str):
    """Compile and import a generated module, cached by source hash, target and compiler version."""
    import hashlib
    import types

    from . import __version__
    text = path.read_bytes()
    key = (str(path.resolve()), hashlib.sha256(text).hexdigest(), target, __version__)
    if key not in _COMPILED:
        code = compile_file(path, target)
        module = types.ModuleType(f"iterc_generated_{path.stem}")
        module.__file__ = f"<iterc {target}: {path}>"
        exec(compile(code, module.__file__, "exec"), module.__dict__)
        module.__iterc_source__ = code
        _COMPILED[key] = module
    return _COMPILED[key]


class LoadedMethod:
    """One method of a .iter file, ready to instantiate per backend: `.numpy(**hypers)`,
    `.optax(...)` (optimizers), `.jax(**hypers)` (solvers: a compiled solver), `.solve(...)`."""

    def __init__(self, path: Path, name: str, kind: str, checked):
        self.path, self.name, self.kind, self.checked = path, name, kind, checked

    def __repr__(self) -> str:
        return f"<iterc {self.kind} {self.name} from {self.path}>"

    @property
    def hypers(self) -> list[str]:
        return [h.symbol.name for h in self.checked.hypers]

    def numpy(self, **hypers):
        module = _compiled_module(self.path, "numpy")
        return module.METHODS[self.name](**hypers)

    @property
    def optax(self):
        """The generated factory (`adamw(lr=None, *, beta1=None, ...)`), so that both
        `m.optax(lr=1e-3)` and `optax.inject_hyperparams(m.optax)(learning_rate=...)` work."""
        if self.kind != "optimizer":
            raise TypeError(f"`{self.name}` is a solver; use .jax(**hypers) or .solve(..., backend=\"jax\")")
        return _compiled_module(self.path, "jax").METHODS[self.name]

    def jax(self, *args, **hypers):
        """A solver compiled with JAX (`check_every=` too), or an optimizer's optax transformation."""
        return _compiled_module(self.path, "jax").METHODS[self.name](*args, **hypers)

    def solve(self, backend: str = "numpy", **inputs_and_hypers):
        """Solve once: `solve(C=..., a=..., b=..., eps=0.1, backend="jax")` -> Solution."""
        if self.kind != "solver":
            raise TypeError(f"`{self.name}` is an optimizer; it has no solve()")
        if backend not in ("numpy", "jax"):
            raise ValueError(f"unknown backend `{backend}` for solve(); use \"numpy\" or \"jax\"")
        options = {k: inputs_and_hypers.pop(k) for k in ("check_every",) if k in inputs_and_hypers}
        if options and backend != "jax":
            raise ValueError("check_every= applies to backend=\"jax\" only")
        hypers = {k: inputs_and_hypers.pop(k) for k in self.hypers if k in inputs_and_hypers}
        solver = self.jax(**hypers, **options) if backend == "jax" else self.numpy(**hypers)
        return solver.solve(**inputs_and_hypers)

    def source(self, target: str = "numpy") -> str:
        return _compiled_module(self.path, target).__iterc_source__


def load(name_or_path: str | Path, method: Optional[str] = None) -> LoadedMethod:
    """A stdlib method by name (`"adamw"`, `"optim.adamw"`) or a `.iter` file by path."""
    path = _resolve_method_file(name_or_path)
    result = check_file(path)
    if not result.ok:
        raise DiagnosticError(result.diagnostics)
    m = result.module.method(method)
    return LoadedMethod(path, m.name, m.kind, m)


def list_stdlib():
    from .stdlib_index import list_methods
    return list_methods()
