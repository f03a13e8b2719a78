"""The checker: names, element types, shapes, domains and claims, before anything runs.

`check_module(module) -> (CheckedModule | None, diagnostics)`. Checks collect
diagnostics and go on, so every error in a file is reported in one run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..diagnostics import Diagnostic, Note, error, warning
from ..syntax import ast
from .defs import check_def_names
from .methods import MethodChecker
from .model import CheckedMethod, CheckedModule, CheckTrace, MethodTrace
from .names import did_you_mean, reserved_reason

__all__ = ["check_module", "CheckedModule", "CheckedMethod", "CheckTrace"]


def _stdlib_modules(root: Path) -> dict[str, Path]:
    """`use optim.adam` or `use adam` -> stdlib/optim/adam.iter."""
    found: dict[str, Path] = {}
    if root.is_dir():
        for p in sorted(root.rglob("*.iter")):
            dotted = ".".join(p.relative_to(root).with_suffix("").parts)
            found[dotted] = p
            found.setdefault(p.stem, p)
    return found


class _Loader:
    """Parses `use`d modules once each and detects cycles."""

    def __init__(self):
        self.cache: dict[Path, Optional[ast.Module]] = {}
        self.stack: list[Path] = []
        self.absent: set[Path] = set()        # local candidates looked for, not found
        self._stdlib: Optional[dict[str, Path]] = None

    @property
    def stdlib(self) -> dict[str, Path]:
        """Scanned on the first `use` only: most files use nothing."""
        if self._stdlib is None:
            try:
                from ..api import stdlib_dir
                self._stdlib = _stdlib_modules(stdlib_dir())
            except FileNotFoundError:
                self._stdlib = {}
        return self._stdlib

    def resolve(self, use: ast.Use, here: Optional[Path]) -> Optional[Path]:
        """A relative file or a module next to `here` first, then the stdlib. Text that is not
        a file on disk (`here` is None) can still use the stdlib."""
        if use.file is not None:
            p = (here.parent / use.file) if here is not None else None
            return p if p is not None and p.is_file() else None
        dotted = ".".join(i.name for i in use.path)
        if here is not None:
            local = here.parent.joinpath(*[i.name for i in use.path]).with_suffix(".iter")
            if local.is_file():
                return local
            self.absent.add(local.resolve())
        return self.stdlib.get(dotted)

    def defs_of(self, module: ast.Module, here: Optional[Path], diags: list[Diagnostic]):
        """Defs visible in `module`: its own, plus those of the modules it uses (unqualified or via alias)."""
        defs: dict[str, ast.Def] = {}
        aliases: dict[str, dict[str, ast.Def]] = {}
        for use in module.uses:
            shown = use.file if use.file is not None else ".".join(i.name for i in use.path)
            span = use.span
            path = self.resolve(use, here)
            if path is None:
                if use.file is not None and here is None:
                    diags.append(error("E0105", f"cannot find `{shown}`", use.span,
                                       hint="a path is looked up next to the file that uses it, and this "
                                            "text was not read from a file"))
                    continue
                known = list(self.stdlib)
                self.report_unknown(use, shown, known, diags, here)
                continue
            path = path.resolve()
            if path in self.stack:
                cycle = " -> ".join(p.name for p in self.stack[self.stack.index(path):] + [path])
                diags.append(error("E0106", f"cyclic `use`: {cycle}", span,
                                   hint="move the shared defs into a module that both can use"))
                continue
            sub = self.load(path, diags)
            if sub is None:
                continue
            self.stack.append(path)
            try:
                sub_defs, _ = self.defs_of(sub, path, diags)
            finally:
                self.stack.pop()
            own = {d.name.name: d for d in sub.defs}
            if use.alias is not None:
                aliases[use.alias.name] = own
            else:
                defs.update(sub_defs)
        for d in module.defs:
            if d.name.name in defs and defs[d.name.name] is not d and defs[d.name.name].span.source is d.span.source:
                diags.append(error("E0102", f"`{d.name.name}` is defined twice", d.name.span,
                                   notes=[Note("first defined here", defs[d.name.name].name.span)]))
                continue
            defs[d.name.name] = d
        return defs, aliases

    def report_unknown(self, use: ast.Use, shown: str, known, diags, here: Optional[Path] = None):
        if use.file is not None:
            diags.append(error("E0105", f"no file `{shown}` next to this one", use.span,
                               hint=did_you_mean(shown, [p.name for p in here.parent.glob("*.iter")])
                               if here is not None else None))
            return
        diags.append(error("E0105", f"unknown module `{shown}`", use.span,
                           hint=did_you_mean(shown, known) or
                           "modules are stdlib names (e.g. `use optim.adam`) or paths (`use \"helpers.iter\"`)"))

    def load(self, path: Path, diags: list[Diagnostic]) -> Optional[ast.Module]:
        if path in self.cache:
            return self.cache[path]
        from ..api import read_source
        from ..syntax.parser import parse_source
        source, read_diags = read_source(path)
        module = None
        if source is not None:
            module, read_diags = parse_source(source)
        diags.extend(read_diags)
        self.cache[path] = module
        return module


def check_module(module: ast.Module, trace: Optional[CheckTrace] = None
                 ) -> tuple[Optional[CheckedModule], list[Diagnostic]]:
    """`trace`, when given, receives the typing of every method, errors or not."""
    diags: list[Diagnostic] = []
    path = module.span.source.path
    here = Path(path) if Path(path).is_file() else None
    loader = _Loader()
    if here is not None:
        loader.stack.append(here.resolve())
    defs, aliases = loader.defs_of(module, here, diags)
    if trace is not None:
        trace.syntax, trace.defs, trace.aliases = module, defs, aliases

    for d in module.defs:
        why = reserved_reason(d.name.name)
        if why:
            diags.append(error("E0103", f"`{d.name.name}` cannot be a def name: {why}", d.name.span))
        for p in d.params:
            why = reserved_reason(p.name)
            if why:
                diags.append(error("E0103", f"`{p.name}` cannot be a name: {why}", p.span))
        from ..builtins import lookup
        if lookup(d.name.name) is not None:
            diags.append(error("E0102", f"`{d.name.name}` is a builtin function and cannot be redefined",
                               d.name.span, hint="choose another name"))
        check_def_names(d, defs, aliases, diags)

    seen: dict[str, ast.Method] = {}
    methods: list[CheckedMethod] = []
    for m in module.methods:
        if m.name.name in seen:
            diags.append(error("E0102", f"method `{m.name.name}` is defined twice", m.name.span,
                               notes=[Note("first defined here", seen[m.name.name].name.span)]))
            continue
        seen[m.name.name] = m
        method_diags: list[Diagnostic] = []
        if m.kind == "optimizer" and any(isinstance(mb, ast.Rule) for mb in m.members):
            from .rules import check_ruled

            def traced(checker, method):
                if trace is not None:
                    trace.methods.append(MethodTrace(method, checker.typing, dict(checker.base),
                                                     list(checker.bound_lets), list(checker.hypers)))
            checked = check_ruled(m, method_diags, defs, aliases,
                                  lambda name, m=m: _delegate(name, module, m, defs, aliases, loader), traced)
        else:
            checker = MethodChecker(m, method_diags, defs, aliases)
            checked = checker.run()
            if trace is not None:
                trace.methods.append(MethodTrace(m, checker.typing, dict(checker.base), list(checker.bound_lets),
                                                 list(checker.hypers)))
        diags.extend(method_diags)
        if checked is not None:
            methods.append(checked)
    if not module.methods and not module.defs:
        diags.append(warning("W0005", "this file defines no method and no def", None if not module.span.source.text
                             else module.span, hint="start a method with `optimizer NAME:` or `solver NAME:`"))
    diags = _dedupe(diags)
    if any(d.is_error for d in diags):
        return None, diags
    return CheckedModule(path, methods, module, uses=tuple(sorted(str(p) for p in loader.cache)),
                         absent=tuple(sorted(str(p) for p in loader.absent))), diags


_DELEGATES: dict[tuple, tuple] = {}


def _delegate(name: str, module: ast.Module, here: ast.Method, defs, aliases, loader: "_Loader"):
    """The optimizer a rule hands its leaves to: one in this file, else the stdlib's; checked
    (a stdlib file once per content)."""
    for other in module.methods:
        if other.name.name == name and other is not here:
            if any(isinstance(mb, ast.Rule) for mb in other.members):
                return None, f"`{name}` has rules of its own; a rule cannot hand leaves to it yet"
            checked = MethodChecker(other, [], defs, aliases).run()
            return checked, None if checked is not None else f"`{name}` has errors"
    path = loader.stdlib.get(name)
    if path is None:
        return None, did_you_mean(name, [k for k in loader.stdlib if "." not in k])
    import hashlib
    data = path.read_bytes()
    key = (str(path), hashlib.sha256(data).hexdigest())
    if key not in _DELEGATES:
        from ..api import check_file
        result = check_file(path)
        found = None
        if result.ok:
            found = next((m for m in result.module.methods if m.name == name), None)
            if found is None and len(result.module.methods) == 1:
                found = result.module.methods[0]
        _DELEGATES[key] = (found, None if found is not None else f"the stdlib's `{name}` does not check")
    return _DELEGATES[key]


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per (code, message, place); of duplicates, the one with the most notes
    (an error in a def seen from a call site says where it was called)."""
    index: dict[tuple, int] = {}
    out: list[Diagnostic] = []
    for d in diags:
        key = (d.code, d.message, d.span.start if d.span else None, d.span.source.path if d.span else None)
        if key not in index:
            index[key] = len(out)
            out.append(d)
        elif len(d.notes) > len(out[index[key]].notes):
            out[index[key]] = d
    return out
