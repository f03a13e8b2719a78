"""The `iterc` command line: exit codes, output streams, atomic writes, laziness."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from iterc import cli as cli_module
from iterc.cli import cli

ROOT = Path(__file__).resolve().parent.parent
ADAMW = ROOT / "stdlib" / "optim" / "adamw.iter"

from programs import MINIMAL_OPTIMIZER as VALID  # noqa: E402

UNFORMATTED = VALID.replace("x <- x - lr * g", "x <- x-lr*g")

WARNS = VALID.replace("    param x", "    hyper unused: real = 1\n    param x")     # W0002

SYNTAX_ERROR = VALID.replace("step:", "step")                                    # E0003


def run(*args: str, input: str | bytes | None = None, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=True)
    assert "Traceback" not in result.output
    return result


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- basics

def test_help_and_version():
    assert run("--help").exit_code == 0
    result = run("--version")
    assert result.exit_code == 0 and "0.1.0" in result.output


@pytest.mark.parametrize("args", [["--bogus"], ["check"], ["compile"], ["fmt"], ["check", "--format", "xml", "a"],
                                  ["compile", "a.iter", "--target", "cuda"], ["nonsense"]])
def test_usage_errors_exit_2(args):
    assert run(*args).exit_code == 2


# ---------------------------------------------------------------- check

def test_check_ok_is_one_quiet_line(tmp_path):
    path = write(tmp_path, "ok.iter", VALID)
    result = run("check", str(path))
    assert result.exit_code == 0
    assert result.output == f"ok: {path}\n"


def test_check_reports_errors_and_exits_1(tmp_path):
    path = write(tmp_path, "bad.iter", SYNTAX_ERROR)
    result = run("check", str(path))
    assert result.exit_code == 1
    assert "error[E0003]" in result.stdout and f"{path}:6:" in result.stdout
    assert "\x1b[" not in result.output                    # not a terminal: no colour


def test_warnings_do_not_fail(tmp_path):
    result = run("check", str(write(tmp_path, "w.iter", WARNS)))
    assert result.exit_code == 0
    assert "warning[W0002]" in result.output


def test_one_bad_file_fails_the_run(tmp_path):
    good = write(tmp_path, "good.iter", VALID)
    bad = write(tmp_path, "bad.iter", SYNTAX_ERROR)
    result = run("check", str(good), str(bad))
    assert result.exit_code == 1
    assert f"ok: {good}" in result.output and "E0003" in result.output


def test_check_json_is_one_array(tmp_path):
    bad = write(tmp_path, "bad.iter", SYNTAX_ERROR)
    warn = write(tmp_path, "w.iter", WARNS)
    result = run("check", "--format", "json", str(bad), str(warn), str(tmp_path / "missing.iter"))
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [r["code"] for r in rows] == ["E0003", "W0002", "E0008"]
    assert rows[0]["file"] == str(bad) and rows[0]["line"] == 6
    assert rows[2]["file"] == str(tmp_path / "missing.iter")


def test_check_json_without_diagnostics_is_an_empty_array(tmp_path):
    result = run("check", "--format", "json", str(write(tmp_path, "ok.iter", VALID)))
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_colour_only_when_asked_or_on_a_terminal(tmp_path, monkeypatch):
    path = str(write(tmp_path, "bad.iter", SYNTAX_ERROR))
    assert "\x1b[" in run("check", "--color", "always", path).output
    assert "\x1b[" not in run("check", "--color", "never", path).output

    class Tty:
        def isatty(self):
            return True

    monkeypatch.setattr(cli_module.sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli_module._use_color("auto") is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli_module._use_color("auto") is False


def test_the_stdlib_checks_clean():
    files = sorted(str(p) for p in (ROOT / "stdlib").rglob("*.iter"))
    result = run("check", *files)
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- naming: stdlib names and directories

@pytest.mark.parametrize("name", ["adamw", "optim.adamw", "optim/adamw"])
def test_check_accepts_a_stdlib_name(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("check", name)
    assert result.exit_code == 0, result.output
    assert result.output == f"ok: {os.path.join('stdlib', 'optim', 'adamw.iter')}\n"


def test_check_a_stdlib_name_from_elsewhere_shows_the_full_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("check", "sgd")
    assert result.exit_code == 0, result.output
    assert result.output == f"ok: {ROOT / 'stdlib' / 'optim' / 'sgd.iter'}\n"


def test_a_file_or_folder_beats_a_stdlib_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adamw").mkdir()
    write(tmp_path / "adamw", "mine.iter", VALID)
    result = run("check", "adamw")
    assert result.exit_code == 0 and result.output == f"ok: {os.path.join('adamw', 'mine.iter')}\n"


def test_unknown_name_is_an_error_with_a_suggestion():
    result = run("check", "adamww")
    assert result.exit_code == 1
    assert "error[E0008]: no such file or stdlib method: `adamww`" in result.output
    assert "did you mean `adamw`?" in result.output
    result = run("check", "zzzzzz")
    assert result.exit_code == 1 and "stdlib methods: " in result.output and "adamw" in result.output
    result = run("check", "*")                                    # a name, never a glob
    assert result.exit_code == 1 and "no such file or stdlib method: `*`" in result.output


def test_unknown_name_in_json(tmp_path):
    result = run("check", "--format", "json", "addam", str(write(tmp_path, "ok.iter", VALID)))
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [(r["code"], r["file"], r["hint"]) for r in rows] == [("E0008", "addam", "did you mean `adam`?")]


def test_check_a_directory_recursively_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    files = [write(tmp_path / "b", "z.iter", VALID), write(tmp_path / "a" / "deep", "y.iter", VALID),
             write(tmp_path, "c.iter", VALID)]
    write(tmp_path, "notes.txt", "not a program")
    write(tmp_path / "b", "x.iter.bak", "not a program")
    result = run("check", str(tmp_path))
    assert result.exit_code == 0, result.output
    want = sorted(files)
    assert result.output == "".join(f"ok: {p}\n" for p in want)


def test_a_directory_with_an_error_fails(tmp_path):
    write(tmp_path, "good.iter", VALID)
    write(tmp_path, "bad.iter", SYNTAX_ERROR)
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert "E0003" in result.output and f"ok: {tmp_path / 'good.iter'}" in result.output


def test_a_directory_without_iter_files_is_an_error(tmp_path):
    write(tmp_path, "readme.txt", "nothing here")
    for args in (["check", str(tmp_path)], ["fmt", str(tmp_path)], ["fmt", "--check", str(tmp_path)]):
        result = run(*args)
        assert result.exit_code == 1, args
        assert f"`{tmp_path}` is a directory with no .iter files in it" in result.output


def test_fmt_accepts_names_and_directories(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert run("fmt", "--check", "adamw", "optim.sgd", "stdlib").exit_code == 0
    (tmp_path / "sub").mkdir()
    messy = write(tmp_path / "sub", "messy.iter", UNFORMATTED)
    tidy = write(tmp_path, "tidy.iter", VALID)
    result = run("fmt", "--check", str(tmp_path))
    assert result.exit_code == 1 and result.stdout == f"would reformat {messy}\n"
    result = run("fmt", str(tmp_path))
    assert result.exit_code == 0 and result.stdout == f"reformatted {messy}\n"
    assert messy.read_text() == VALID and tidy.read_text() == VALID
    result = run("fmt", "--check", "addam")
    assert result.exit_code == 1 and "did you mean `adam`?" in result.stderr


def test_a_missing_iter_file_is_still_no_such_file(tmp_path):
    result = run("check", str(tmp_path / "gone.iter"))
    assert result.exit_code == 1 and f"no such file: `{tmp_path / 'gone.iter'}`" in result.output


# ---------------------------------------------------------------- compile

def test_compile_prints_python(tmp_path):
    result = run("compile", str(write(tmp_path, "sgd.iter", VALID)), "--target", "numpy")
    assert result.exit_code == 0, result.output
    compile(result.stdout, "generated.py", "exec")          # valid Python
    assert "sgd_plain" in result.stdout


def test_compile_writes_out_atomically(tmp_path):
    out = tmp_path / "sgd_ref.py"
    result = run("compile", str(write(tmp_path, "sgd.iter", VALID)), "--target", "numpy", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    compile(out.read_text(), str(out), "exec")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sgd.iter", "sgd_ref.py"]   # no temp file left
    mode = stat.S_IMODE(out.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_failed_compile_leaves_out_alone(tmp_path):
    out = write(tmp_path, "out.py", "previous = True\n")
    result = run("compile", str(write(tmp_path, "bad.iter", SYNTAX_ERROR)), "-o", str(out))
    assert result.exit_code == 1
    assert "E0003" in result.stderr and result.stdout == ""
    assert out.read_text() == "previous = True\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.iter", "out.py"]


def test_compile_to_a_missing_folder_is_a_clean_error(tmp_path):
    result = run("compile", str(write(tmp_path, "sgd.iter", VALID)), "-o", str(tmp_path / "no" / "such" / "x.py"))
    assert result.exit_code == 1
    assert "cannot write" in result.output


@pytest.mark.parametrize("target", ["torch", "triton"])
def test_targets_not_yet_available(tmp_path, target):
    out = tmp_path / "x.py"
    result = run("compile", str(write(tmp_path, "sgd.iter", VALID)), "--target", target, "-o", str(out))
    assert result.exit_code == 2
    assert f"target `{target}` is not available yet" in result.stderr
    assert not out.exists()


def test_compile_emit_ast(tmp_path):
    result = run("compile", "--emit", "ast", str(write(tmp_path, "sgd.iter", VALID)))
    assert result.exit_code == 0
    assert result.stdout.startswith("Module(") and "sgd_plain" in result.stdout


def test_compile_missing_file(tmp_path):
    result = run("compile", str(tmp_path / "nope.iter"))
    assert result.exit_code == 1
    assert "E0008" in result.stderr


# ---------------------------------------------------------------- fmt

def test_fmt_check_reports_and_changes_nothing(tmp_path):
    messy = write(tmp_path, "messy.iter", UNFORMATTED)
    tidy = write(tmp_path, "tidy.iter", VALID)
    result = run("fmt", "--check", str(messy), str(tidy))
    assert result.exit_code == 1
    assert result.stdout == f"would reformat {messy}\n"
    assert messy.read_text() == UNFORMATTED
    assert run("fmt", "--check", str(tidy)).exit_code == 0


def test_fmt_rewrites_in_place_keeping_permissions(tmp_path):
    messy = write(tmp_path, "messy.iter", UNFORMATTED)
    os.chmod(messy, 0o640)
    result = run("fmt", str(messy))
    assert result.exit_code == 0
    assert messy.read_text() == VALID
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["messy.iter"]
    before = messy.stat().st_mtime_ns
    assert run("fmt", str(messy)).output == ""                 # already canonical: not rewritten
    assert messy.stat().st_mtime_ns == before


def test_fmt_never_touches_a_file_that_does_not_parse(tmp_path):
    bad = write(tmp_path, "bad.iter", SYNTAX_ERROR)
    for args in (["fmt", str(bad)], ["fmt", "--check", str(bad)]):
        result = run(*args)
        assert result.exit_code == 1
        assert "E0003" in result.stderr
        assert bad.read_text() == SYNTAX_ERROR


def test_fmt_stdin_to_stdout():
    result = run("fmt", "-", input=UNFORMATTED)
    assert result.exit_code == 0
    assert result.stdout == VALID


def test_fmt_crlf_file_is_rewritten_with_lf(tmp_path):
    crlf = write(tmp_path, "crlf.iter", VALID.replace("\n", "\r\n").encode())
    assert run("fmt", "--check", str(crlf)).exit_code == 1
    assert run("fmt", str(crlf)).exit_code == 0
    assert crlf.read_bytes() == VALID.encode()


# ---------------------------------------------------------------- list

def test_list_names_the_stdlib_methods():
    result = run("list")
    assert result.exit_code == 0, result.output
    line = next(l for l in result.stdout.splitlines() if l.split()[0] == "adamw")
    assert line.split()[1:3] == ["optimizer", "optim"]
    assert "AdamW: Adam with decoupled weight decay." in line
    assert "Loshchilov & Hutter" in line


def test_list_json_and_the_index_api():
    from iterc.stdlib_index import list_methods

    rows = json.loads(run("list", "--format", "json").stdout)
    names = {r["name"] for r in rows}
    assert {"sgd", "adam", "adamw"} <= names
    assert names == {m.name for m in list_methods()}
    adamw = next(m for m in list_methods() if m.name == "adamw")
    assert (adamw.kind, adamw.family, adamw.path.name) == ("optimizer", "optim", "adamw.iter")


def test_list_citation_prefers_cite(tmp_path):
    from iterc.stdlib_index import list_methods

    (tmp_path / "ot").mkdir()
    write(tmp_path / "ot", "s.iter", 'solver s:\n    """Summary.\n    Second line."""\n    dims n\n'
          '    input a: real[n]\n    state f: real[n] = 0\n    step:\n        f <- a\n    output f\n'
          '    converges linear by cite """Franklin &\n Lorenz 1989"""\n')
    write(tmp_path, "d.iter", VALID)
    methods = list_methods(tmp_path)
    assert [(m.name, m.family, m.citation) for m in methods] == [
        ("sgd_plain", "", None), ("s", "ot", "Franklin & Lorenz 1989")]


# ---------------------------------------------------------------- internal errors

def test_internal_errors_are_reported_not_dumped(tmp_path, monkeypatch):
    from iterc import api

    def boom(path):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(api, "check_file", boom)
    monkeypatch.delenv("ITERC_DEBUG", raising=False)
    result = run("check", str(write(tmp_path, "ok.iter", VALID)))
    assert result.exit_code == 3
    assert "internal error: RuntimeError: kaboom" in result.stderr
    assert "report" in result.stderr

    result = CliRunner().invoke(cli, ["check", "x.iter"], env={"ITERC_DEBUG": "1"})
    assert isinstance(result.exception, RuntimeError)


# ---------------------------------------------------------------- the real entry points

def _python(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full_env, cwd=ROOT,
                          timeout=120)


def test_python_dash_m_iterc():
    proc = _python("-m", "iterc", "--version")
    assert proc.returncode == 0 and "0.1.0" in proc.stdout
    proc = _python("-m", "iterc", "check", str(ADAMW))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_fmt_list_import_no_backend_library(tmp_path):
    """`iterc check`, `fmt` and `list` must not import jax, torch, triton or numpy."""
    probe = (
        "import sys\n"
        "from iterc.cli import main\n"
        "for args in (['check', sys.argv[1]], ['fmt', '--check', sys.argv[1]], ['list']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'jax', 'torch', 'triton', 'numpy'})\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = _python("-c", probe, str(ADAMW))
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stdout, proc.stdout


def test_compile_emit_ir_prints_the_lowered_step():
    from click.testing import CliRunner
    from iterc.cli import cli
    result = CliRunner().invoke(cli, ["compile", "stdlib/optim/sgd.iter", "--emit", "ir"])
    assert result.exit_code == 0, result.output
    assert "optimizer sgd" in result.output and "%buf_2: real[...] E = " in result.output


def test_json_notes_carry_their_place(tmp_path):
    import json as _json
    from click.testing import CliRunner
    p = tmp_path / "two.iter"
    p.write_text("optimizer o:\n    hyper lr: real = 0.1\n    hyper lr: real = 0.2\n    param x: real[...]\n"
                 "    oracle g = grad(x)\n    step:\n        x <- x - lr * g\n")
    result = CliRunner().invoke(cli, ["check", "--format", "json", str(p)])
    rows = _json.loads(result.output)
    dup = next(r for r in rows if r["code"] == "E0102")
    assert (dup["line"], dup["column"]) == (3, 11)
    assert dup["notes"][0]["message"] == "first defined here"
    assert (dup["notes"][0]["line"], dup["notes"][0]["column"]) == (2, 11)
