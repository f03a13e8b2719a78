"""The wheel ships grammar/ and stdlib/ inside the package and works away from the repo.

Builds a wheel from a clean copy of the sources, installs it into a fresh virtual
environment and runs the installed `iterc` from a folder outside the repository, so the
repo-root fallback cannot hide a missing data file.

Offline by default: the wheel goes in with --no-deps and the new environment borrows
lark, click and numpy from the environment running the tests (a .pth line; that does not
expose the editable iterc, whose own .pth hook is only run in real site folders).
ITERC_PACKAGING_FROM_INDEX=1 installs the dependencies from the package index instead;
ITERC_SKIP_PACKAGING=1 skips this module.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(os.environ.get("ITERC_SKIP_PACKAGING") == "1",
                                reason="ITERC_SKIP_PACKAGING=1")

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "iterc", "grammar", "stdlib")


def _run(cmd: list, cwd: Path, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_data", "*.egg-info", ".*")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("src")
    _copy_sources(work)
    dist = work / "dist"
    try:
        import setuptools  # noqa: F401  - present: build offline, with it
        isolation = ["--no-isolation", "--skip-dependency-check"]
    except ImportError:
        isolation = []                   # let `build` fetch setuptools into an isolated env
    _run([sys.executable, "-m", "build", "--wheel", *isolation, "--outdir", dist, work], cwd=work)
    wheels = list(dist.glob("iterc-*.whl"))
    assert len(wheels) == 1, wheels
    assert not (work / "iterc" / "_data").exists(), "the build must not write into the source tree"
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", env_dir], cwd=env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=env_dir).stdout.strip())
    if os.environ.get("ITERC_PACKAGING_FROM_INDEX") == "1":
        _run([sys.executable, "-m", "pip", "--python", python, "install", wheel], cwd=env_dir)
    else:
        _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", wheel], cwd=env_dir)
        (site / "_borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def test_wheel_contains_grammar_and_stdlib(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "iterc/_data/grammar/iter.lark" in names
    for path in (ROOT / "stdlib").rglob("*.iter"):
        assert f"iterc/_data/stdlib/{path.relative_to(ROOT / 'stdlib').as_posix()}" in names
    assert "iterc/cli.py" in names
    assert not any("__pycache__" in n for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = zipfile.ZipFile(wheel).read(metadata).decode()
    for dep in ("lark", "click", "numpy", "platformdirs", "filelock"):
        assert f"Requires-Dist: {dep}" in requires
    entry_points = zipfile.ZipFile(wheel).read(metadata.replace("METADATA", "entry_points.txt")).decode()
    assert "iterc = iterc.cli:main" in entry_points


def test_installed_package_uses_its_own_data(venv, tmp_path):
    python = venv / "bin" / "python"
    out = _run([python, "-c", "import iterc, iterc.api, iterc.syntax.parser as p; "
                "print(iterc.__file__); print(iterc.api.stdlib_dir()); print(p.grammar_path())"],
               cwd=tmp_path).stdout.split("\n")
    package = Path(out[0]).parent
    assert package.is_relative_to(venv), out
    assert Path(out[1]) == package / "_data" / "stdlib"
    assert Path(out[2]) == package / "_data" / "grammar" / "iter.lark"


def test_installed_cli_lists_and_checks(venv, tmp_path):
    iterc = venv / "bin" / "iterc"
    listing = _run([iterc, "list"], cwd=tmp_path).stdout
    assert any(line.split()[:3] == ["adamw", "optimizer", "optim"] for line in listing.splitlines()), listing

    package = Path(_run([venv / "bin" / "python", "-c", "import iterc; print(iterc.__file__)"],
                        cwd=tmp_path).stdout.strip()).parent
    adamw = package / "_data" / "stdlib" / "optim" / "adamw.iter"
    checked = _run([iterc, "check", adamw], cwd=tmp_path)
    assert checked.stdout.strip() == f"ok: {adamw}"

    out = tmp_path / "adamw_ref.py"
    _run([iterc, "compile", adamw, "--target", "numpy", "-o", out], cwd=tmp_path)
    assert "adamw" in out.read_text()


def test_installed_package_caches_compiled_methods(venv, tmp_path):
    python = venv / "bin" / "python"
    script = ("import iterc; from iterc import api, cache; "
              "opt = iterc.load('adamw').numpy(lr=1e-3); "
              "m = api._compiled_module(api._resolve_method_file('adamw'), 'numpy'); "
              "print(m.__iterc_cache__.how, m.__iterc_cache__.path.parent.parent == cache.cache_dir())")
    env = {**os.environ, "ITERC_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("ITERC_NO_CACHE", None)
    runs = [_run([python, "-c", script], cwd=tmp_path, env=env).stdout.split() for _ in range(2)]
    assert runs == [["built", "True"], ["hit", "True"]]
