"""Generated code: golden files for the numpy target, and the rule that user text never
reaches generated Python outside comments and validated identifiers."""
import io
import os
import tokenize
from pathlib import Path

import pytest

from iterc.api import check_text, compile_file
from programs import golden_stem

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "codegen"
SOURCES = sorted((ROOT / "stdlib").rglob("*.iter")) + [ROOT / "examples" / f"{name}.iter"
                                                      for name in ("sinkhorn", "halpern", "langevin")]


def _update(request) -> bool:
    try:
        return bool(request.config.getoption("--update-golden"))
    except ValueError:
        return os.environ.get("ITERC_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("source", SOURCES, ids=golden_stem)
def test_numpy_codegen_golden(source, request):
    code = compile_file(source, "numpy")
    golden = GOLDEN / f"{golden_stem(source)}.py"
    if _update(request):
        golden.write_text(code)
    assert golden.exists(), f"no golden file {golden.name}; create it with --update-golden and review it"
    assert code == golden.read_text(), f"generated code for {source.name} changed; review and rerun with --update-golden"
    compile(code, str(golden), "exec")


JAX_GOLDEN = ["adamw", "sgd", "rmsprop", "sinkhorn", "polyak_sgd", "prodigy"]  # a few, to review how JAX code reads


@pytest.mark.parametrize("name", JAX_GOLDEN)
def test_jax_codegen_golden(name, request):
    source = next(p for p in SOURCES if p.stem == name)
    code = compile_file(source, "jax")
    golden = GOLDEN / "jax" / f"{name}.py"
    if _update(request):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(code)
    assert golden.exists(), f"no golden file jax/{golden.name}; create it with --update-golden and review it"
    assert code == golden.read_text(), f"generated JAX code for {name} changed; review and rerun with --update-golden"
    compile(code, str(golden), "exec")


HOSTILE = '''
optimizer sneaky:
    """Docstring with code: __import__("os").system("echo pwned") ' "
    second line """
    hyper lr: real = 1e-3 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g   # comment "); import os #
    converges linear by cite "x'); __import__('os').system('echo pwned'); ('"
'''


@pytest.mark.parametrize("target", ["numpy", "jax"])
def test_user_text_only_in_comments(tmp_path, target):
    p = tmp_path / 'we"ird name.iter'
    p.write_text(HOSTILE)
    code = compile_file(p, target)
    allowed_strings = set()
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.STRING:
            allowed_strings.add(tok.string)
    for s in allowed_strings:
        assert "pwned" not in s and "import" not in s.replace("numpy reference implementation", ""), s
        assert "Docstring" not in s and "comment" not in s, s
    namespace = {}
    exec(compile(code, "<generated>", "exec"), namespace)      # importing it runs no user code
    assert ("make_sneaky" if target == "numpy" else "sneaky") in namespace


@pytest.mark.parametrize("name", ["lambda", "class", "__init__", "_hidden", "np", "rt"])
def test_dangerous_names_are_rejected(name):
    src = f"""
optimizer o:
    hyper {name}: real = 0.1
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - {name} * g
    converges heuristic
"""
    result = check_text(src, "main.iter")
    assert any(d.code == "E0103" for d in result.errors), [d.code for d in result.diagnostics]
