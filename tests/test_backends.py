"""Every available target can lower every builtin, and a missing lowering is a located error."""
import pytest

from iterc.api import check_text
from iterc.backends import AVAILABLE, prepare, target_of
from iterc.backends.pyexpr import Target
from iterc.builtins import PRIMITIVES, REGISTRY
from iterc.diagnostics import DiagnosticError
from iterc.ir import lower_module


@pytest.mark.parametrize("name", AVAILABLE)
def test_every_primitive_has_a_lowering(name):
    target = target_of(name)
    missing = sorted(p for p in PRIMITIVES if p not in target.table and REGISTRY[p].kind.value != "special")
    assert not missing, f"target {name} lacks lowerings for primitives {missing}"


@pytest.mark.parametrize("name", AVAILABLE)
def test_table_names_only_registry_entries(name):
    unknown = sorted(set(target_of(name).table) - set(REGISTRY))
    assert not unknown, unknown


def test_a_missing_lowering_names_builtin_target_and_place():
    from iterc.backends.numpy import NUMPY
    table = {k: v for k, v in NUMPY.table.items() if k not in ("exp", "sigmoid", "tanh")}
    partial = Target("partial", "np", table)
    result = check_text('''
optimizer o:
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - 0.1 * exp(g)
    converges heuristic
''', "o.iter")
    with pytest.raises(DiagnosticError) as info:
        prepare(lower_module(result.module), partial)
    d = info.value.diagnostics[0]
    assert d.code == "E0401" and "`exp`" in d.message and "`partial`" in d.message
    assert d.span is not None and d.span.source.line_col(d.span.start)[0] == 6
