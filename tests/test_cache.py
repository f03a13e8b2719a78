"""The on-disk compile cache (iterc/cache.py) behind iterc.load(...).numpy().

Keys: the source, every file it uses, the compiler, the target and the library versions.
Concurrency: 8 processes loading one method at once; writers racing readers. Damage: a
wrong key, a wrong checksum, truncation, garbage, empty files, cached source that does
not compile or fails when run; each is rebuilt, none crashes a load.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import iterc
from iterc import api, cache

ROOT = Path(__file__).resolve().parent.parent

HELPER = "def decay(v, beta) = beta * v\n"
METHOD = '''\
use "helper.iter"

optimizer mom:
    """Momentum through a def of another file."""
    hyper lr: real = 0.1 where lr > 0
    hyper beta: real = 0.5 where 0 <= beta < 1
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    step:
        m <- decay(m, beta) + g
        x <- x - lr * m
    converges heuristic
'''


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh cache folder and a fresh process state (no in-process memo, zero counters)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ITERC_CACHE_DIR", str(folder))
    monkeypatch.delenv("ITERC_NO_CACHE", raising=False)
    fresh_process(monkeypatch)
    return folder


def fresh_process(monkeypatch):
    monkeypatch.setattr(api, "_COMPILED", {})
    monkeypatch.setattr(api, "_CHECKED", {})
    monkeypatch.setattr(cache, "STATS", dict.fromkeys(cache.STATS, 0))


@pytest.fixture
def method(tmp_path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "helper.iter").write_text(HELPER)
    (src / "mom.iter").write_text(METHOD)
    return src / "mom.iter"


def two_steps(path) -> list:
    opt = iterc.load(path).numpy()
    x = np.array([1.0, -2.0])
    s = opt.init(x)
    for _ in range(2):
        x, s = opt.step(x, s, np.array([1.0, 1.0]))
    return x.tolist()


def expected(beta_of_m=0.5) -> list:
    x, m = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(2):
        m = beta_of_m * m + 1.0
        x = x - 0.1 * m
    return x.tolist()


def entries(folder: Path) -> list[Path]:
    return sorted((folder / "compiled").glob("*.py")) if (folder / "compiled").is_dir() else []


def module_of(path, target="numpy"):
    return api._compiled_module(Path(path), target)


# ---------------------------------------------------------------- hits and keys

def test_built_once_then_hit_in_process_and_from_disk(cache_dir, method, monkeypatch):
    assert two_steps(method) == pytest.approx(expected())
    first = module_of(method)
    assert first.__iterc_cache__.how == "built"
    assert first.__file__ == f"<iterc numpy: {method}>"
    assert first.__iterc_source__ == api.compile_file(method)
    [entry] = entries(cache_dir)
    assert entry.name.startswith("mom-numpy-") and first.__iterc_cache__.path == entry

    assert module_of(method) is first                      # the in-process dict, in front
    assert cache.STATS == {"hit": 0, "built": 1, "rebuilt": 0, "uncached": 0}

    fresh_process(monkeypatch)                             # as a new process would
    again = module_of(method)
    assert again is not first and again.__iterc_cache__.how == "hit"
    assert again.__iterc_source__ == first.__iterc_source__
    assert again.__file__ == first.__file__
    assert two_steps(method) == pytest.approx(expected())
    assert cache.STATS["built"] == 0 and entries(cache_dir) == [entry]


def test_editing_a_used_file_is_a_new_key(cache_dir, method):
    assert two_steps(method) == pytest.approx(expected())
    old = module_of(method)
    (method.parent / "helper.iter").write_text("def decay(v, beta) = 0 * v\n")
    assert two_steps(method) == pytest.approx(expected(beta_of_m=0.0))   # the memo saw it
    new = module_of(method)
    assert new is not old and new.__iterc_cache__.how == "built"
    assert new.__iterc_cache__.key != old.__iterc_cache__.key
    assert len(entries(cache_dir)) == 2


def test_a_new_local_module_shadowing_the_stdlib_is_seen(cache_dir, tmp_path):
    # `use adam` means stdlib/optim/adam.iter until an adam.iter appears next to the file.
    src = tmp_path / "shadow"
    src.mkdir()
    main = src / "main.iter"
    main.write_text(METHOD.replace('use "helper.iter"', "use adam"))
    with pytest.raises(iterc.DiagnosticError, match="decay"):
        module_of(main)
    (src / "adam.iter").write_text(HELPER)
    assert module_of(main).__iterc_cache__.how == "built"


def test_key_parts(cache_dir, method, monkeypatch):
    fingerprint = api._checked(method)[1]
    key, parts = cache.entry_key(fingerprint, "numpy")
    assert parts["source"] == [str(method.resolve()), cache.sha256_file(method)]
    assert parts["uses"] == [[str((method.parent / "helper.iter").resolve()),
                              cache.sha256_file(method.parent / "helper.iter")]]
    assert parts["libraries"] == {"numpy": np.__version__}
    assert parts["compiler"].startswith(iterc.__version__ + "+")
    assert cache.entry_key(fingerprint, "jax")[0] != key
    assert set(cache.entry_key(fingerprint, "jax")[1]["libraries"]) == {"jax", "jaxlib", "optax"}
    monkeypatch.setattr(cache, "_VERSIONS", {"numpy": "0.0.1"})
    assert cache.entry_key(fingerprint, "numpy")[0] != key
    monkeypatch.setattr(cache, "_COMPILER", "0.1.0+another-compiler")
    assert cache.entry_key(fingerprint, "numpy")[0] != key


def test_no_cache_env_writes_nothing(cache_dir, method, monkeypatch):
    monkeypatch.setenv("ITERC_NO_CACHE", "1")
    assert two_steps(method) == pytest.approx(expected())
    assert module_of(method).__iterc_cache__.how == "uncached"
    assert not cache_dir.exists()


def test_an_unusable_cache_folder_does_not_fail_a_load(tmp_path, method, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("ITERC_CACHE_DIR", str(blocker))
    fresh_process(monkeypatch)
    assert two_steps(method) == pytest.approx(expected())
    assert module_of(method).__iterc_cache__.how == "uncached"


def test_default_folder_is_platformdirs(monkeypatch):
    import platformdirs
    monkeypatch.delenv("ITERC_CACHE_DIR", raising=False)
    assert cache.cache_dir() == Path(platformdirs.user_cache_dir("iterc", appauthor=False))


# ---------------------------------------------------------------- damaged entries

def _body_edit(transform):
    """Rewrite the body, with a header that matches it: only compiling or running can tell."""
    def damage(data: bytes, key: str) -> bytes:
        end = data.index(b"\n# end of header\n") + len(b"\n# end of header\n")
        meta = json.loads(next(line for line in data[:end].decode().split("\n")
                                if line.startswith("# meta: "))[len("# meta: "):])
        return cache.render_entry(key, meta, transform(data[end:].decode()))
    return damage


def _raw_entry(key: str, body: bytes) -> bytes:
    """An entry whose header matches `body`, whatever its bytes."""
    header = [cache.MAGIC, f"# key: {key}", f"# body-sha256: {cache.sha256_bytes(body)}",
              f"# body-length: {len(body)}", "# meta: {}", cache.END]
    return "\n".join(header).encode() + b"\n" + body


DAMAGE = {
    "key mismatch": lambda data, key: data.replace(key.encode(), b"0" * 64),
    "checksum mismatch": lambda data, key: data.replace(b"Generated by iterc", b"Generated by ITERC"),
    "truncated body": lambda data, key: data[: len(data) * 2 // 3],
    "truncated header": lambda data, key: data[:100],
    "empty": lambda data, key: b"",
    "garbage": lambda data, key: bytes(range(256)) * 4,
    "not utf-8": lambda data, key: _raw_entry(key, b"x = '\xff\xfe'\n"),
    "syntax error": _body_edit(lambda body: body + "\ndef broken(:\n"),
    "fails when run": _body_edit(lambda body: body + "\nraise RuntimeError('stale runtime API')\n"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_entry_is_rebuilt(cache_dir, method, monkeypatch, kind):
    good = module_of(method)
    [entry] = entries(cache_dir)
    pristine = entry.read_bytes()
    entry.write_bytes(DAMAGE[kind](pristine, good.__iterc_cache__.key))
    assert entry.read_bytes() != pristine

    fresh_process(monkeypatch)
    module = module_of(method)
    assert module.__iterc_cache__.how == "rebuilt"
    assert module.__iterc_source__ == good.__iterc_source__
    assert entry.read_bytes() == pristine                   # repaired in place
    assert two_steps(method) == pytest.approx(expected())


def test_parse_entry_reports_each_defect():
    key = "ab" * 32
    good = cache.render_entry(key, {}, "x = 1\n")
    assert cache.parse_entry(good, key, "<t>")[0] == "x = 1\n"
    cases = {
        "key mismatch": (good, "cd" * 32),
        "length mismatch": (good + b"y = 2\n", key),
        "checksum mismatch": (good.replace(b"x = 1", b"x = 2"), key),
        "not an entry": (b"\x00garbage", key),
        "does not compile": (cache.render_entry(key, {}, "x = (\n"), key),
    }
    for words, (data, k) in cases.items():
        with pytest.raises(cache.InvalidEntry, match=words):
            cache.parse_entry(data, k, "<t>")


# ---------------------------------------------------------------- processes at once

LOADER = '''\
# One clean process pays the imports (ml_dtypes alone takes a second), then forks 8
# workers that wait on a pipe and load the method at the same moment, each in its own
# process: own memory, own file descriptors, own locks.
import json, os, sys, traceback
import numpy as np
import iterc
import iterc.runtime.numpy_rt
from iterc import api
assert iterc.check_text("def f(x) = x").ok and not api._CHECKED
path, n = sys.argv[1], int(sys.argv[2])
go_r, go_w = os.pipe()
children = []
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.read(go_r, 1)                           # the barrier
        try:
            opt = iterc.load(path).numpy()
            x = np.array([1.0, -2.0]); s = opt.init(x)
            for _ in range(2):
                x, s = opt.step(x, s, np.array([1.0, 1.0]))
            m = api._compiled_module(api.Path(path), "numpy")
            line = json.dumps({"pid": os.getpid(), "how": m.__iterc_cache__.how, "x": x.tolist()})
            os.write(1, (line + "\\n").encode())  # one short write: lines do not interleave
            code = 0
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stderr.flush()
        os._exit(code)
    children.append(pid)
os.close(go_r)
os.write(go_w, b"g" * n)                          # release them all at once
failed = sum(os.waitpid(pid, 0)[1] != 0 for pid in children)
sys.exit(1 if failed else 0)
'''


def _start(script: str, *args, n: int, tmp_path: Path, env=None):
    file = tmp_path / "worker.py"
    file.write_text(script)
    env = {**os.environ, **(env or {}),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return [subprocess.Popen([sys.executable, str(file), *map(str, args)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]


def _finish(procs, timeout=60) -> list[str]:
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


def test_eight_processes_load_at_once(cache_dir, method, tmp_path):
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}   # nothing threaded across fork
    [out] = _finish(_start(LOADER, method, 8, n=1, tmp_path=tmp_path, env=env))
    results = [json.loads(line) for line in out.splitlines()]
    assert len({r["pid"] for r in results}) == 8
    assert all(r["x"] == pytest.approx(expected()) for r in results)
    assert sorted(r["how"] for r in results) == ["built"] + ["hit"] * 7   # one compiled, under the lock
    [entry] = entries(cache_dir)
    assert not list((cache_dir / "compiled").glob("*.tmp"))
    key = entry.read_text().split("\n")[1].removeprefix("# key: ")
    cache.parse_entry(entry.read_bytes(), key, "<t>")


RACER = '''\
import os, sys, time
from pathlib import Path
from iterc import cache
role, entry, go = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
key = "ab" * 32
while not os.path.exists(go):
    time.sleep(0.002)
if role == "write":
    for i in range(12):
        body = f"x = {i}\\n" + "# padding " * 30_000 + "\\n"        # 300 kB: a torn write would show
        cache.load_or_build(key, {}, entry, "<t>", lambda: body, force=True)
    print("wrote")
else:
    seen = bad = 0
    deadline = time.monotonic() + 20
    while seen < 100 and time.monotonic() < deadline:
        found, invalid = cache._read(entry, key, "<t>")
        seen += found is not None
        bad += invalid
    print(seen, bad)
'''


def test_readers_never_see_a_partial_entry(cache_dir, tmp_path):
    entry = cache_dir / "compiled" / "race.py"
    go = tmp_path / "go"
    procs = (_start(RACER, "write", entry, go, n=3, tmp_path=tmp_path)
             + _start(RACER, "read", entry, go, n=3, tmp_path=tmp_path))
    time.sleep(0.5)
    go.touch()
    outs = _finish(procs)
    assert outs[:3] == ["wrote\n"] * 3
    for out in outs[3:]:
        seen, bad = map(int, out.split())
        assert bad == 0 and seen > 0
    assert not list(entry.parent.glob("*.tmp"))
