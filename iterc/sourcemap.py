"""Run-time errors and warnings in generated code, reported at the `.iter` line.

Every statement the numpy backend writes ends in a `# FILE.iter:LINE` comment. When
`iterc.load` executes a generated module, `register` reads those comments into a map
(generated line -> `.iter` file and line) and puts the generated source in `linecache`,
so tracebacks show the generated lines too. Then:

- warnings: `warnings._showwarnmsg` (through which both the C and the Python `warn`
  show or record every warning, `catch_warnings(record=True)` and `pytest.warns`
  included) is wrapped once, so that a warning raised by a line of generated code, or by
  numpy or the runtime while a generated function runs, is shown at its `.iter` file
  and line;
- exceptions: the module's functions are wrapped (`wrap_functions`), so that an
  exception leaving one gets a note naming the `.iter` file and line and the source line,
  after the usual traceback.

Only what `register` has seen is touched; everything else passes through unchanged.
"""
from __future__ import annotations

import functools
import linecache
import os
import re
import sys
import types
import warnings
from typing import Optional

# `    d = g + hp.wd * x  # sgd.iter:19`: code, then the location comment
_LOCATION = re.compile(r"\S.*  # (?P<file>[^#\n]+?):(?P<line>\d+)$")

_MAPS: dict[str, "SourceMap"] = {}       # generated filename -> its map


class SourceMap:
    """Generated line -> (`.iter` path, line) for one generated module."""

    def __init__(self, filename: str, source: str, iter_path: str):
        self.filename = filename
        self.iter_path = iter_path
        self.lines: dict[int, tuple[str, int]] = {}
        base = os.path.basename(iter_path)
        folder = os.path.dirname(iter_path)
        for number, text in enumerate(source.splitlines(), start=1):
            m = _LOCATION.search(text)
            if m is None:
                continue
            name = m.group("file")
            path = iter_path if name == base else os.path.join(folder, name)
            self.lines[number] = (path, int(m.group("line")))

    def lookup(self, lineno: Optional[int]) -> Optional[tuple[str, int]]:
        return self.lines.get(lineno) if lineno is not None else None


def register(filename: str, source: str, iter_path: str) -> SourceMap:
    """Record a generated module (`filename` is its code objects' co_filename) and make its
    source visible to tracebacks; install the warning hook."""
    smap = SourceMap(filename, source, str(iter_path))
    _MAPS[filename] = smap
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    _install_warning_hook()
    return smap


def location_of(filename: str, lineno: Optional[int]) -> Optional[tuple[str, int]]:
    """The `.iter` file and line of a line of registered generated code, else None."""
    smap = _MAPS.get(filename)
    return smap.lookup(lineno) if smap is not None else None


def _frame_location(frame) -> Optional[tuple[str, int]]:
    """The `.iter` place of the innermost generated frame at or above `frame`."""
    while frame is not None:
        if frame.f_code.co_filename in _MAPS:
            return location_of(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


# ---------------------------------------------------------------- exceptions

def _source_line(path: str, line: int) -> str:
    return linecache.getline(path, line).strip()


def note_for(exc: BaseException) -> Optional[str]:
    """`at FILE.iter:LINE` and the source line, for the innermost frame of generated code in
    the exception's traceback; None when none of its frames is generated code."""
    place = None
    tb = exc.__traceback__
    while tb is not None:
        found = location_of(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        if found is not None or tb.tb_frame.f_code.co_filename in _MAPS:
            place = found
        tb = tb.tb_next
    if place is None:
        return None
    path, line = place
    text = _source_line(path, line)
    return f"in the .iter source, at {path}:{line}" + (f"\n    {text}" if text else "")


def annotate(exc: BaseException) -> None:
    """Add `note_for(exc)` to the exception, once."""
    note = note_for(exc)
    if note is None or note in (getattr(exc, "__notes__", None) or ()):
        return
    if hasattr(exc, "add_note"):
        exc.add_note(note)                                  # Python 3.11+
    else:                                                   # pragma: no cover - Python 3.10
        try:
            exc.__notes__ = [*getattr(exc, "__notes__", ()), note]
        except AttributeError:
            pass


def wrap_functions(module: types.ModuleType) -> None:
    """Replace each function defined in the generated `module` by one that annotates the
    exceptions leaving it (module globals are looked up at call time, so `make_*` and the
    runtime get the wrapped ones)."""
    filename = module.__file__
    for name, obj in list(vars(module).items()):
        if isinstance(obj, types.FunctionType) and obj.__code__.co_filename == filename:
            setattr(module, name, _annotating(obj))


def _annotating(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            annotate(exc)
            raise
    return wrapper


# ---------------------------------------------------------------- warnings

def _install_warning_hook() -> None:
    current = warnings._showwarnmsg
    if getattr(current, "__iterc_sourcemap__", False):
        return

    @functools.wraps(current)
    def _showwarnmsg(msg):
        try:
            _relocate(msg)
        except Exception:                                   # noqa: BLE001 - never break a warning
            pass
        return current(msg)

    _showwarnmsg.__iterc_sourcemap__ = True
    warnings._showwarnmsg = _showwarnmsg


def _relocate(msg) -> None:
    """Point a warning raised in (or under) generated code at the `.iter` line."""
    if not _MAPS:
        return
    place = location_of(msg.filename, msg.lineno)
    if place is None and msg.filename not in _MAPS:
        # raised by numpy or the runtime: blame the generated line that called it, if any
        place = _frame_location(sys._getframe(2))
    if place is not None:
        msg.filename, msg.lineno = place
        msg.line = None                                     # formatwarning reads the .iter line
