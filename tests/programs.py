"""Small programs shared by several test files."""

MINIMAL_OPTIMIZER = '''\
optimizer sgd_plain:
    """Plain SGD."""
    hyper lr: real = 0.01 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g
    converges heuristic
'''


def golden_stem(source) -> str:
    """The name of a program's golden files in tests/codegen (NAME.py, NAME.ir): its file's
    stem, except that an example named like a stdlib file (examples/halpern.iter and
    stdlib/fixed_point/halpern.iter) is `example_NAME`, so the two never share a file."""
    from pathlib import Path
    source = Path(source)
    root = Path(__file__).resolve().parent.parent
    if source.parent == root / "examples" and any(p.stem == source.stem for p in (root / "stdlib").rglob("*.iter")):
        return f"example_{source.stem}"
    return source.stem
