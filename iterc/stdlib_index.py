"""What the standard library holds: every method in every `stdlib/**/*.iter`.

Discovery only parses (no checking), so `iterc list` stays fast and works even while a
method in the library has a type error. A family is the folder a file sits in (`optim`,
`prox`, `ot`, ...); a citation is the `converges ... by cite "..."` text when there is
one, else the docstring's second line (where the library puts its reference).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class MethodInfo:
    name: str
    kind: str                 # "optimizer" | "solver"
    family: str               # subfolder of stdlib/, "" for a file at its root
    path: Path
    summary: str              # first line of the docstring
    citation: Optional[str]

    def to_dict(self) -> dict:
        row = asdict(self)
        row["path"] = str(self.path)
        return row


def stdlib_files(root: Optional[Path] = None) -> list[Path]:
    if root is None:
        from .api import stdlib_dir
        root = stdlib_dir()
    return sorted(p for p in Path(root).rglob("*.iter") if p.is_file())


def _describe(method, family: str, path: Path) -> MethodInfo:
    from .syntax import ast

    lines = [line.strip() for line in (method.doc or "").split("\n")]
    lines = [line for line in lines if line]
    summary = lines[0] if lines else ""
    citation = None
    for member in method.members:
        if isinstance(member, ast.Converges) and member.cite:
            citation = " ".join(member.cite.split())
    if citation is None and len(lines) > 1:
        citation = lines[1]
    return MethodInfo(method.name.name, method.kind, family, path, summary, citation)


def scan_stdlib(root: Optional[Path] = None) -> tuple[list[MethodInfo], list]:
    """(methods sorted by family then name, diagnostics of files that do not parse)."""
    from .api import read_source, stdlib_dir
    from .syntax.parser import parse_source

    root = Path(root) if root is not None else stdlib_dir()
    methods: list[MethodInfo] = []
    problems: list = []
    for path in stdlib_files(root):
        source, diags = read_source(path)
        module = None
        if source is not None:
            module, diags = parse_source(source)
        if module is None:
            problems.extend(diags)
            continue
        family = "/".join(path.relative_to(root).parent.parts)
        methods.extend(_describe(m, family, path) for m in module.methods)
    methods.sort(key=lambda m: (m.family, m.name))
    return methods, problems


def list_methods(root: Optional[Path] = None) -> list[MethodInfo]:
    """Every method in the standard library (files that do not parse are skipped)."""
    return scan_stdlib(root)[0]
