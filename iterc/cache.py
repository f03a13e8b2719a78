"""The on-disk compile cache: generated Python source, keyed by everything that shapes it.

`iterc.load(...).numpy()` compiles a `.iter` file once per key and reuses the generated
module from then on, across processes. The key (`entry_key`) is a SHA-256 over

- the source file (its resolved path and a hash of its bytes),
- every file reached through `use`, transitively (path and hash of each),
- the compiler: its version and a hash of its own code (`iterc/**/*.py` and the grammar),
  so an edited checkout never reuses code that an older compiler generated,
- the target, and the versions of the libraries the generated code runs on (numpy for
  numpy; jax, jaxlib and optax for jax), read from the installed distributions' metadata
  without importing them (numpy is imported: the generated module imports it anyway),
- the entry format.

An entry is one file, `<cache dir>/compiled/<stem>-<target>-<key[:24]>.py`: a header of
`#` lines (format, full key, SHA-256 and length of the body, a JSON line of metadata for
people), then the generated source. Reading checks the format line, the key, the length,
the checksum, UTF-8 and that the body compiles; anything else is a miss and the entry is
rebuilt in place. A cache that cannot be read or written never fails a load: it compiles
without caching.

Writes are atomic: the entry is written to a temporary file in the same directory and
moved over the old one with `os.replace`, so a reader sees the old file, the new file or
none, never a partial one. A per-entry `filelock.FileLock` serialises the builders: of
several processes that miss at once, one compiles and the others, once they hold the
lock, find its entry and read it.

The cache directory is `platformdirs.user_cache_dir("iterc")` (~/.cache/iterc on Linux),
or `$ITERC_CACHE_DIR`; `ITERC_NO_CACHE=1` turns the cache off (nothing read or written).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Callable, Iterable, Optional

FORMAT = 1
MAGIC = f"# iterc compile cache, format {FORMAT}"
END = "# end of header"
LOCK_TIMEOUT_S = 120.0

# Distributions whose versions key a target's entries. The generated numpy module imports
# numpy, so its version is read from the module (importing importlib.metadata would cost
# more); the others are read from their metadata, without importing them.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "jax": ("jax", "jaxlib", "optax"),
    "torch": ("torch",),
    "triton": ("triton", "torch"),
}

log = logging.getLogger("iterc.cache")

# What happened in this process, for tests and curious users: hit, built (a miss), rebuilt
# (an invalid entry replaced), uncached (cache off or unusable).
STATS: dict[str, int] = {"hit": 0, "built": 0, "rebuilt": 0, "uncached": 0}


def enabled() -> bool:
    return os.environ.get("ITERC_NO_CACHE", "").strip() not in ("1", "true", "yes", "on")


def cache_dir() -> Path:
    override = os.environ.get("ITERC_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("iterc", appauthor=False))


# ---------------------------------------------------------------- the key

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> Optional[str]:
    try:
        return sha256_bytes(Path(path).read_bytes())
    except OSError:
        return None


_COMPILER: Optional[str] = None


def compiler_fingerprint() -> str:
    """The compiler's version and a hash of its code (once per process; ~2 ms warm)."""
    global _COMPILER
    if _COMPILER is None:
        from . import __version__
        from .syntax.parser import grammar_path
        package = Path(__file__).resolve().parent
        h = hashlib.sha256(__version__.encode())
        files = sorted((p.relative_to(package).as_posix(), p) for p in package.rglob("*.py")
                       if "_data" not in p.relative_to(package).parts)
        try:
            files.append(("grammar", grammar_path()))
        except FileNotFoundError:
            pass
        for label, p in files:
            try:
                data = p.read_bytes()
            except OSError:
                continue
            h.update(b"\0" + label.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
        _COMPILER = f"{__version__}+{h.hexdigest()[:16]}"
    return _COMPILER


_VERSIONS: dict[str, str] = {}


def library_version(dist: str) -> str:
    if dist not in _VERSIONS:
        if dist == "numpy":
            import numpy
            _VERSIONS[dist] = numpy.__version__
        else:
            import importlib.metadata as md
            try:
                _VERSIONS[dist] = md.version(dist)
            except md.PackageNotFoundError:
                _VERSIONS[dist] = "absent"
    return _VERSIONS[dist]


def library_versions(target: str) -> dict[str, str]:
    return {dist: library_version(dist) for dist in LIBRARIES.get(target, ())}


@dataclass(frozen=True)
class Fingerprint:
    """What a checked module depends on: (path, sha256) of the file and of every file it
    uses, and the paths whose absence its `use` resolution relied on."""
    files: tuple[tuple[str, str], ...]
    absent: tuple[str, ...] = ()

    @classmethod
    def of(cls, path: Path, data: bytes, uses: Iterable[str], absent: Iterable[str] = ()) -> Optional["Fingerprint"]:
        files = [(str(path.resolve()), sha256_bytes(data))]
        for used in uses:
            digest = sha256_file(used)
            if digest is None:
                return None
            files.append((str(used), digest))
        return cls(tuple(files), tuple(absent))

    def current(self) -> bool:
        """Whether every file still has the same bytes and no absent one has appeared."""
        return (all(sha256_file(p) == digest for p, digest in self.files)
                and not any(os.path.exists(p) for p in self.absent))


def entry_key(fingerprint: Fingerprint, target: str) -> tuple[str, dict]:
    """The cache key (hex SHA-256) of a module compiled for `target`, and its parts."""
    (source, source_sha), *uses = fingerprint.files
    parts = {
        "format": FORMAT,
        "compiler": compiler_fingerprint(),
        "target": target,
        "libraries": library_versions(target),
        "source": [source, source_sha],
        "uses": sorted([p, h] for p, h in uses),
    }
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return sha256_bytes(blob), parts


def entry_path(key: str, stem: str, target: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:60] or "module"
    return cache_dir() / "compiled" / f"{safe}-{target}-{key[:24]}.py"


# ---------------------------------------------------------------- entries

def render_entry(key: str, meta: dict, body: str) -> bytes:
    data = body.encode("utf-8")
    header = "\n".join([
        MAGIC,
        f"# key: {key}",
        f"# body-sha256: {sha256_bytes(data)}",
        f"# body-length: {len(data)}",
        f"# meta: {json.dumps(meta, sort_keys=True)}",
        END,
    ]) + "\n"
    return header.encode("utf-8") + data


class InvalidEntry(Exception):
    """Why a cache entry cannot be used (the message says)."""


def parse_entry(data: bytes, key: str, filename: str) -> tuple[str, CodeType]:
    """The body of an entry and its code object; raises InvalidEntry on any defect."""
    end = data.find(("\n" + END + "\n").encode())
    if not data.startswith(MAGIC.encode() + b"\n") or end < 0:
        raise InvalidEntry("not an entry of this format (or truncated in its header)")
    fields = {}
    for line in data[:end].decode("utf-8", errors="replace").split("\n")[1:]:
        name, sep, value = line[2:].partition(": ")
        if line.startswith("# ") and sep:
            fields[name] = value
    body = data[end + len(END) + 2:]
    if fields.get("key") != key:
        raise InvalidEntry(f"key mismatch: the entry is for {fields.get('key')!r}")
    if fields.get("body-length") != str(len(body)):
        raise InvalidEntry(f"length mismatch: {len(body)} bytes, header says {fields.get('body-length')}")
    if fields.get("body-sha256") != sha256_bytes(body):
        raise InvalidEntry("checksum mismatch")
    try:
        text = body.decode("utf-8")
        code = compile(text, filename, "exec", dont_inherit=True)
    except (UnicodeDecodeError, SyntaxError, ValueError) as exc:
        raise InvalidEntry(f"the cached source does not compile: {exc}") from None
    return text, code


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@dataclass(frozen=True)
class CacheInfo:
    """Where a loaded module came from: `how` is hit, built, rebuilt or uncached."""
    how: str
    key: Optional[str]
    path: Optional[Path]


def _read(path: Path, key: str, filename: str) -> tuple[Optional[tuple[str, CodeType]], bool]:
    """(body and code, or None; whether an entry existed and was invalid)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, False
    except OSError as exc:
        log.debug("iterc cache: cannot read %s: %s", path, exc)
        return None, False
    try:
        return parse_entry(data, key, filename), False
    except InvalidEntry as exc:
        log.info("iterc cache: %s is invalid (%s); rebuilding it", path, exc)
        return None, True


def _compiled(text: str, filename: str) -> CodeType:
    return compile(text, filename, "exec", dont_inherit=True)


def load_or_build(key: str, meta: dict, path: Optional[Path], filename: str,
                  build: Callable[[], str], force: bool = False) -> tuple[str, CodeType, CacheInfo]:
    """The generated source for `key` and its code object: from the entry at `path` when it
    is valid, else from `build()` (then written to `path`). `force` skips reading (an entry
    that was read fine but failed when run). Errors of `build` propagate; errors of the
    cache never do."""
    if path is None or not enabled():
        text = build()
        STATS["uncached"] += 1
        return text, _compiled(text, filename), CacheInfo("uncached", key, None)

    invalid = force
    if not force:
        found, invalid = _read(path, key, filename)
        if found is not None:
            STATS["hit"] += 1
            return (*found, CacheInfo("hit", key, path))

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(path)
    except OSError as exc:                  # a read-only or unusable cache folder: no cache
        log.info("iterc cache: cannot use %s: %s", path.parent, exc)
        lock = None
    if lock is None:
        text = build()
        STATS["uncached"] += 1
        return text, _compiled(text, filename), CacheInfo("uncached", key, None)

    try:
        if not force:
            found, again_invalid = _read(path, key, filename)     # built while we waited?
            if found is not None:
                STATS["hit"] += 1
                return (*found, CacheInfo("hit", key, path))
            invalid = invalid or again_invalid
        text = build()
        code = _compiled(text, filename)
        how = "rebuilt" if invalid else "built"
        try:
            write_atomic(path, render_entry(key, meta, text))
        except OSError as exc:
            log.info("iterc cache: cannot write %s: %s", path, exc)
            how = "uncached"
        STATS[how] += 1
        return text, code, CacheInfo(how, key, path if how != "uncached" else None)
    finally:
        lock.release()


def _lock(path: Path):
    """The held build lock of an entry, or None when it cannot be had in LOCK_TIMEOUT_S."""
    from filelock import FileLock, Timeout
    lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        log.warning("iterc cache: %s is locked for over %ss; compiling without the cache", path, LOCK_TIMEOUT_S)
        return None
    return lock


def clear() -> int:
    """Remove every entry and leftover temporary file (not the lock files: another process
    may hold one); the number of files removed."""
    folder = cache_dir() / "compiled"
    removed = 0
    if folder.is_dir():
        for p in folder.iterdir():
            if p.suffix in (".py", ".tmp"):
                try:
                    p.unlink()
                    removed += 1
                except OSError:
                    pass
    return removed
