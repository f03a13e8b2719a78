"""Hostile input: every case ends in a diagnostic or a clean one-line error, never a
traceback, and `compile -o` / `fmt` never leave a half-written or clobbered file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from iterc.cli import cli

ROOT = Path(__file__).resolve().parent.parent

from programs import MINIMAL_OPTIMIZER as VALID  # noqa: E402


def _in_step(expression: str) -> str:
    return VALID.replace("x <- x - lr * g", f"x <- x - lr * g * ({expression})")


MB = 1_000_000

# name -> (file bytes, expected `check` exit code, a diagnostic code the output must name)
CASES = {
    "empty": (b"", 0, "W0005"),
    "binary": (b"\x00\x01\xff\xfe\x80binary\x00" * 64, 1, "E0001"),
    "control_characters": (b"\x00\x01\x02\x03\n", 1, "E0002"),
    "invalid_utf8_in_a_comment": (VALID.replace("step:", "step:  # caf\udce9", 1)
                                  .encode("utf-8", "surrogateescape"), 1, "E0001"),
    "one_mb_of_one_word": (b"a" * MB + b"\n", 1, "E0003"),
    "one_mb_comment_line": (b"#" + b"c" * MB + b"\n" + VALID.encode(), 0, None),
    "one_mb_string_literal": (_in_step('"' + "s" * MB + '"').encode(), 1, "E0207"),
    "ten_thousand_nested_parentheses": (_in_step("(" * 10_000 + "x" + ")" * 10_000).encode(), 1, "E0007"),
    "tab_in_indentation": (VALID.replace("    param", "\t param").encode(), 1, "E0005"),
    "tabs_mixed_with_spaces": (VALID.replace("        x <-", "    \tx <-").encode(), 1, "E0005"),
    "indentation_matching_no_block": (VALID.replace("    param", "  param").encode(), 1, "E0006"),
    "unclosed_bracket_at_eof": (VALID.replace("grad(x)", "grad(x").encode(), 1, "E0003"),
    "only_a_bom": (b"\xef\xbb\xbf", 0, "W0005"),
}


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exit_code != 3, f"internal error: {result.output}"
    return result


@pytest.fixture(params=sorted(CASES))
def bad_file(request, tmp_path):
    data, code, diagnostic = CASES[request.param]
    path = tmp_path / f"{request.param}.iter"
    path.write_bytes(data)
    return path, data, code, diagnostic


def test_check(bad_file):
    path, _, code, diagnostic = bad_file
    result = invoke("check", str(path))
    assert result.exit_code == code, result.output[:2000]
    if diagnostic:
        assert diagnostic in result.output
    assert len(max(result.output.splitlines() or [""], key=len)) < 400       # long lines are cut


def test_check_json(bad_file):
    path, _, code, diagnostic = bad_file
    result = invoke("check", "--format", "json", str(path))
    assert result.exit_code == code


def test_fmt_never_damages_the_file(bad_file):
    path, data, code, _ = bad_file
    result = invoke("fmt", "--check", str(path))
    assert result.exit_code in (0, 1)
    assert path.read_bytes() == data
    result = invoke("fmt", str(path))
    if code == 1 and "E0" in result.output:
        assert result.exit_code == 1
        assert path.read_bytes() == data                # a file that does not parse is never touched


def test_compile_never_writes_on_failure(bad_file, tmp_path):
    path, _, code, _ = bad_file
    out = tmp_path / "out.py"
    result = invoke("compile", str(path), "--target", "numpy", "-o", str(out))
    if code == 1:
        assert result.exit_code == 1
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_one_mb_expression_line(tmp_path):
    path = tmp_path / "chain.iter"
    path.write_text(_in_step(" + ".join(["x"] * (MB // 4))))
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output[:2000]
    assert "error[E0007]" in result.output      # nested too deep for the later passes: said, not crashed
    assert invoke("fmt", "--check", str(path)).exit_code in (0, 1)


@pytest.mark.parametrize("command", [["check"], ["fmt"], ["fmt", "--check"], ["compile"]])
def test_missing_file_and_directory(tmp_path, command):
    for target, words in ((tmp_path / "missing.iter", "no such file"), (tmp_path, "is a directory")):
        result = invoke(*command, str(target))
        assert result.exit_code == 1
        assert "E0008" in result.output and words in result.output


def test_crlf_checks_exactly_like_lf(tmp_path):
    for text in (VALID, VALID.replace("step:", "step"), VALID.replace("    hyper lr", "    hyper unused: real = 1\n    hyper lr")):
        lf = tmp_path / "lf.iter"
        crlf = tmp_path / "crlf.iter"
        lf.write_bytes(text.encode())
        crlf.write_bytes(text.replace("\n", "\r\n").encode())
        a = invoke("check", str(lf))
        b = invoke("check", str(crlf))
        assert a.exit_code == b.exit_code
        assert a.output.replace("lf.iter", "X") == b.output.replace("crlf.iter", "X")


def _iterc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iterc", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={**os.environ, "ITERC_DEBUG": ""})


@pytest.mark.parametrize("name", ["binary", "ten_thousand_nested_parentheses", "tabs_mixed_with_spaces", "empty"])
def test_the_real_process_prints_no_traceback(tmp_path, name):
    data, code, diagnostic = CASES[name]
    path = tmp_path / "f.iter"
    path.write_bytes(data)
    proc = _iterc("check", str(path))
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == code
    if diagnostic:
        assert diagnostic in proc.stdout


def test_the_real_process_on_a_missing_file_and_a_directory(tmp_path):
    for target in (tmp_path / "missing.iter", tmp_path):
        proc = _iterc("check", str(target))
        assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
        assert "E0008" in proc.stdout
