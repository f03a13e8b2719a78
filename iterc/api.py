"""The public Python API: check, compile and load `.iter` methods.

The pipeline reads as one function of named passes (`_pipeline`); each stage is a folder:
syntax (parse) -> check (names, types, shapes) -> ir (lower) -> backends (emit source).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ._records import ValueRecord
from .diagnostics import Diagnostic, DiagnosticError, error
from .syntax.source import Source


class CheckResult(ValueRecord):
    _fields = ("diagnostics", "module", "source")
    diagnostics: list[Diagnostic]
    module: object                   # iterc.check.CheckedModule when there are no errors
    source: Optional[Source]

    def __init__(self, diagnostics, module=None, source=None):
        self.diagnostics = diagnostics
        self.module = module
        self.source = source

    __hash__ = None                  # mutable, like the dataclass it was

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


def check_source(source: Source, trace=None) -> CheckResult:
    """`trace` (an `iterc.check.CheckTrace`) receives the typing of a file with errors too."""
    import gc

    # Parsing and checking build one large structure that stays alive until they finish.
    # The cyclic garbage collector would traverse it again and again as it grows (a tenth
    # of the instructions of a dense 300-line file) and find little to free in it, so it is paused
    # meanwhile; the caller's setting comes back after, and the next collection frees the
    # few cycles left behind.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _check_source(source, trace)
    finally:
        if paused:
            gc.enable()


def _check_source(source: Source, trace=None) -> CheckResult:
    from .syntax.parser import parse_source
    from .check import check_module

    module, diags = parse_source(source)
    if module is None:
        return CheckResult(diags, None, source)
    checked, more = check_module(module, trace)
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
    return _emit_checked(result.module, target)


# ---------------------------------------------------------------- load

def find_stdlib_method(name: str) -> Optional[Path]:
    """The stdlib file of a method named `adamw`, `optim.adamw` or `optim/adamw`, or None."""
    root = stdlib_dir()
    dotted = str(name).replace("/", ".")
    if not all(part.isidentifier() and part.isascii() for part in dotted.split(".")):
        return None                           # not a name: no globbing on `*`, `..` or ``
    exact = root.joinpath(*dotted.split(".")).with_suffix(".iter")
    if exact.is_file():
        return exact
    candidates = sorted(root.rglob(f"{dotted.split('.')[-1]}.iter"))
    return candidates[0] if candidates else None


def stdlib_suggestion(name: str) -> str:
    """`did you mean `adamw`?`, or the list of stdlib methods when nothing is close."""
    import difflib

    root = stdlib_dir()
    files = sorted(root.rglob("*.iter"))
    names = sorted({q.stem for q in files})
    dotted = sorted(".".join(q.relative_to(root).with_suffix("").parts) for q in files)
    close = difflib.get_close_matches(str(name), names, n=1) or \
        difflib.get_close_matches(str(name), dotted, n=1)
    return f"did you mean `{close[0]}`?" if close else f"stdlib methods: {', '.join(names)}"


def _resolve_method_file(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".iter" or p.exists():
        if not p.is_file():
            raise FileNotFoundError(f"no .iter file at `{name_or_path}`")
        return p
    found = find_stdlib_method(str(name_or_path))
    if found is not None:
        return found
    hint = stdlib_suggestion(str(name_or_path))
    raise LookupError(f"no stdlib method `{name_or_path}`; {hint}")


def expand_inputs(args) -> list[tuple[str, list[Diagnostic]]]:
    """What `iterc check` and `iterc fmt` work on: each argument is a `.iter` file, a
    directory (its `.iter` files, recursively, sorted) or a stdlib method name (`adamw`,
    `optim.adamw`). Returns (path to show, problems) pairs; a pair with problems stands for
    an argument that names nothing to read. A missing `x.iter` is left to `read_source`."""
    import os

    out: list[tuple[str, list[Diagnostic]]] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            files = sorted(q for q in p.rglob("*.iter") if q.is_file())
            if not files:
                out.append((arg, [error("E0008", f"`{arg}` is a directory with no .iter files in it", None,
                                        hint="pass .iter files, a directory that holds some, "
                                             "or a stdlib method name")]))
            out.extend((str(q), []) for q in files)
            continue
        if p.suffix == ".iter" or p.exists():
            out.append((arg, []))
            continue
        found = find_stdlib_method(arg)
        if found is None:
            out.append((arg, [error("E0008", f"no such file or stdlib method: `{arg}`", None,
                                    hint=stdlib_suggestion(arg))]))
            continue
        shown = str(found)
        try:
            rel = os.path.relpath(found)
            if not rel.startswith(".."):
                shown = rel
        except ValueError:                    # another drive (Windows)
            pass
        out.append((shown, []))
    return out


_COMPILED: dict[tuple, tuple] = {}      # (file, resolved file, target) -> (Fingerprint, module)
_CHECKED: dict[tuple, tuple] = {}       # (file, resolved file) -> (Fingerprint, CheckResult)


def _checked(path: Path):
    """check_file, memoized while the file and every file it uses keep their bytes.
    Returns (CheckResult, Fingerprint or None); only clean results are kept."""
    from .cache import Fingerprint

    memo_key = (str(path), str(path.resolve()))
    memo = _CHECKED.get(memo_key)
    if memo is not None and memo[0].current():
        return memo[1], memo[0]
    try:
        data = path.read_bytes()
    except OSError:
        return check_file(path), None     # the diagnostic says why
    from .syntax.parser import decode
    source, diags = decode(str(path), data)
    result = check_source(source) if source is not None else CheckResult(diags)
    fingerprint = None
    if result.ok:
        fingerprint = Fingerprint.of(path, data, result.module.uses, result.module.absent)
        if fingerprint is not None:
            _CHECKED[memo_key] = (fingerprint, result)
    return result, fingerprint


def _emit_checked(module, target: str) -> str:
    """Python source of a CheckedModule for `target` (what compile_file does after checking)."""
    import os

    from .backends import emit
    from .ir import lower_module
    ir = lower_module(module)
    if os.environ.get("ITERC_VERIFY") == "1":
        from .ir.verify import verify_module
        verify_module(ir)
    return emit(ir, target)


def _compiled_module(path: Path, target: str):
    """The generated module of a .iter file for `target`, executed.

    Two caches: this process's dict, valid while the file and every file it uses keep their
    bytes, in front of the on-disk cache (iterc/cache.py), keyed by those bytes, the compiler,
    the target and the backend's library versions."""
    import types

    from . import cache

    path = Path(path)
    memo_key = (str(path), str(path.resolve()), target)
    memo = _COMPILED.get(memo_key)
    if memo is not None and memo[0].current():
        return memo[1]
    result, fingerprint = _checked(path)
    if not result.ok:
        raise DiagnosticError(result.diagnostics)
    filename = f"<iterc {target}: {path}>"
    key = meta = entry = None
    if fingerprint is not None and cache.enabled():
        key, meta = cache.entry_key(fingerprint, target)
        try:
            entry = cache.entry_path(key, path.stem, target)
        except Exception as exc:          # e.g. platformdirs cannot name a folder here
            cache.log.info("iterc cache: no cache folder: %s", exc)

    def build() -> str:
        return _emit_checked(result.module, target)

    def run(text, code, info):
        from . import sourcemap
        module = types.ModuleType(f"iterc_generated_{path.stem}")
        module.__file__ = filename
        sourcemap.register(filename, text, str(path))   # run-time errors and warnings name the .iter line
        exec(code, module.__dict__)
        sourcemap.wrap_functions(module)
        module.__iterc_source__ = text
        module.__iterc_cache__ = info
        return module

    text, code, info = cache.load_or_build(key, meta, entry, filename, build)
    try:
        module = run(text, code, info)
    except Exception:
        if info.how != "hit":
            raise
        # A cached entry that reads fine but fails when run is rebuilt; a fresh build that
        # fails is a real error.
        cache.log.info("iterc cache: %s failed when run; rebuilding it", entry)
        module = run(*cache.load_or_build(key, meta, entry, filename, build, force=True))
    if fingerprint is not None:
        _COMPILED[memo_key] = (fingerprint, module)
    return module


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
            raise ValueError(f"solve(backend={backend!r}) is not available yet; available: 'numpy', 'jax'")
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
    result, _ = _checked(path)
    if not result.ok:
        raise DiagnosticError(result.diagnostics)
    if not result.module.methods:
        _no_methods(name_or_path, path, result.module.syntax)
    m = result.module.method(method)
    return LoadedMethod(path, m.name, m.kind, m)


def _no_methods(name_or_path, path: Path, syntax) -> None:
    """A file of defs only (like stdlib/schedules.iter) is used by methods, not loaded."""
    defs = ", ".join(d.name.name for d in syntax.defs) or "nothing"
    given = Path(name_or_path)
    in_stdlib = not (given.suffix == ".iter" or given.exists())      # named, as _resolve_method_file reads it
    try:
        module = ".".join(path.resolve().relative_to(stdlib_dir().resolve()).with_suffix("").parts)
    except ValueError:
        module, in_stdlib = f'"{path.name}"', False
    message = (f"`{name_or_path}` defines no methods, only defs ({defs}); "
               f"call them from a method after `use {module}`")
    raise (LookupError if in_stdlib else ValueError)(message)


def list_stdlib():
    from .stdlib_index import list_methods
    return list_methods()
