"""What the standard library holds: every method in every `stdlib/**/*.iter`, and the
files that hold only defs (such as `schedules.iter`), which methods import with `use`.

Discovery only parses (no checking), so `iterc list` stays fast and works even while a
method in the library has a type error. A family is the folder a file sits in (`optim`,
`prox`, `ot`, ...); a citation is the `converges ... by cite "..."` text when there is
one, else the docstring's second line (where the library puts its reference). A file of
defs is described by the comment at its top.
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


@dataclass(frozen=True)
class DefsInfo:
    """A stdlib file that holds defs and no method: a module for `use`."""
    module: str               # the name `use` takes: "schedules", "prox.helpers"
    family: str
    path: Path
    summary: str              # first sentence of the comment at the top of the file
    defs: tuple[str, ...]     # signatures, "cosine(t, init_value, decay_steps, alpha)"

    def to_dict(self) -> dict:
        row = asdict(self)
        row["path"], row["defs"] = str(self.path), list(self.defs)
        return row


def stdlib_files(root: Optional[Path] = None) -> list[Path]:
    if root is None:
        from .api import stdlib_dir
        root = stdlib_dir()
    return sorted(p for p in Path(root).rglob("*.iter") if p.is_file())


def leading_comment(text: str) -> str:
    """The comment block at the top of a file, without its `#`s (blank comment lines kept)."""
    lines: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped.startswith("#"):
            if stripped:
                break
            if lines and lines[-1] != "":
                lines.append("")
            continue
        body = stripped[1:]
        lines.append(body[1:] if body.startswith(" ") else body)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)


def _first_sentence(text: str) -> str:
    para = " ".join(text.split("\n\n", 1)[0].split())
    end = para.find(". ")
    return para if end < 0 else para[:end + 1]


def describe_method(method, family: str, path: Path) -> MethodInfo:
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
    methods, _, problems = scan_library(root)
    return methods, problems


def scan_library(root: Optional[Path] = None) -> tuple[list[MethodInfo], list[DefsInfo], list]:
    """(methods sorted by family then name, files of defs only sorted by module name,
    diagnostics of files that do not parse)."""
    from .api import read_source, stdlib_dir
    from .syntax.parser import parse_source

    root = Path(root) if root is not None else stdlib_dir()
    methods: list[MethodInfo] = []
    modules: list[DefsInfo] = []
    problems: list = []
    for path in stdlib_files(root):
        source, diags = read_source(path)
        module = None
        if source is not None:
            module, diags = parse_source(source)
        if module is None:
            problems.extend(diags)
            continue
        rel = path.relative_to(root)
        family = "/".join(rel.parent.parts)
        methods.extend(describe_method(m, family, path) for m in module.methods)
        if module.defs and not module.methods:
            signatures = tuple(f"{d.name.name}({', '.join(p.name for p in d.params)})" for d in module.defs)
            modules.append(DefsInfo(".".join(rel.with_suffix("").parts), family, path,
                                    _first_sentence(leading_comment(source.text)), signatures))
    methods.sort(key=lambda m: (m.family, m.name))
    modules.sort(key=lambda m: m.module)
    return methods, modules, problems


def list_methods(root: Optional[Path] = None) -> list[MethodInfo]:
    """Every method in the standard library (files that do not parse are skipped)."""
    return scan_stdlib(root)[0]


def list_def_modules(root: Optional[Path] = None) -> list[DefsInfo]:
    """Every stdlib file that holds only defs (files that do not parse are skipped)."""
    return scan_library(root)[1]
