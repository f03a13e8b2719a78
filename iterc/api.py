"""The public Python API: check, compile and load `.iter` methods.

The pipeline reads as one function of named passes (`_pipeline`); each stage is a folder:
syntax (parse) -> check (names, types, shapes) -> ir (lower) -> backends (emit source).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .diagnostics import Diagnostic, DiagnosticError, error
from .syntax.source import Source, Span


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
    placeholder = Source(shown, "")
    try:
        if p.is_dir():
            return None, [error("E0008", f"`{shown}` is a directory, not a .iter file", None,
                                hint="pass the .iter files inside it")]
        data = p.read_bytes()
    except FileNotFoundError:
        return None, [error("E0008", f"no such file: `{shown}`", None)]
    except OSError as exc:
        return None, [error("E0008", f"cannot read `{shown}`: {exc.strerror or exc}", None)]
    del placeholder
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


def compile_file(path: str | Path, target: str = "numpy") -> str:
    """Python source of the compiled module; raises DiagnosticError on errors."""
    result = check_file(path)
    if not result.ok:
        raise DiagnosticError(result.diagnostics)
    from .ir import lower_module
    from .backends import emit
    return emit(lower_module(result.module), target)
