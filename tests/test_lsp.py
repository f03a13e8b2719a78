"""`iterc lsp` end to end: pytest-lsp starts `python -m iterc lsp` and talks to it over
stdio, on the stdlib's files and on broken ones. One server for the whole module."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from lsp_support import ADAMW, CONFIG, ROOT, STDLIB, STDLIB_FILES, Doc, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

SINKHORN = ROOT / "examples" / "sinkhorn.iter"


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def client(lsp_client: LanguageClient):
    result = await start(lsp_client)
    lsp_client.init_result = result
    yield
    await lsp_client.shutdown_session()


def _uri(tmp_path, name: str) -> str:
    return (tmp_path / name).as_uri()


async def hover_text(client, doc: Doc, needle: str, nth: int = 0, delta: int = 0) -> str:
    h = await client.text_document_hover_async(types.HoverParams(doc.ident, doc.pos(needle, nth, delta)))
    assert h is not None, f"no hover at {needle!r}"
    return h.contents.value


def cli_json(path) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "iterc", "check", "--format", "json", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    return json.loads(proc.stdout)


def as_rows(diags) -> list[tuple]:
    return sorted((d.code, d.message, d.range.start.line, d.range.start.character, d.range.end.line,
                   d.range.end.character) for d in diags)


# ---------------------------------------------------------------- capabilities

async def test_capabilities(client: LanguageClient):
    caps = client.init_result.capabilities
    assert client.init_result.server_info.name == "iterc"
    for name in ("hover_provider", "definition_provider", "references_provider", "rename_provider",
                 "completion_provider", "signature_help_provider", "document_symbol_provider",
                 "document_formatting_provider", "semantic_tokens_provider", "code_action_provider",
                 "inlay_hint_provider"):
        assert getattr(caps, name), name


# ---------------------------------------------------------------- diagnostics

@pytest.mark.parametrize("path", STDLIB_FILES, ids=lambda p: p.name)
async def test_stdlib_files_have_no_diagnostics(client: LanguageClient, path):
    doc = await Doc.open(client, path.as_uri(), path.read_text())
    assert await doc.diagnostics() == []
    doc.close()


BROKEN_TYPES = """optimizer o:
    hyper lr: real = 0.1 where lr > 0
    hyper lr: real = 0.2
    param W: real[m, n]
    oracle g = grad(W)
    state v: real[m] = 0
    step:
        v <- 0.9 * v + g
        W <- W - lrr * g
"""


async def test_diagnostics_match_the_cli(client: LanguageClient, tmp_path):
    path = tmp_path / "broken.iter"
    path.write_text(BROKEN_TYPES)
    doc = await Doc.open(client, path.as_uri(), BROKEN_TYPES)
    got = await doc.diagnostics()
    want = sorted((r["code"], r["message"], r["line"] - 1, r["column"] - 1, r["end_line"] - 1, r["end_column"] - 1)
                  for r in cli_json(path))
    assert as_rows(got) == want and len(want) >= 3
    # notes become related information, with their places; the hint comes along
    dup = next(d for d in got if d.code == "E0102")
    assert dup.source == "iterc" and dup.severity == types.DiagnosticSeverity.Error
    note = dup.related_information[0]
    assert note.message == "first defined here" and note.location.uri == doc.uri
    assert (note.location.range.start.line, note.location.range.start.character) == (1, 10)
    shape = next(d for d in got if d.code == "E0201")
    messages = [r.message for r in shape.related_information]
    assert "`0.9 * v` has type real[m]" in messages and any(m.startswith("hint: insert an axis") for m in messages)
    doc.close()


async def test_diagnostics_on_change_and_save(client: LanguageClient, tmp_path):
    text = ADAMW.read_text()
    doc = await Doc.open(client, _uri(tmp_path, "adamw.iter"), text)
    assert await doc.diagnostics() == []
    line = doc.pos("m <- beta1").line
    got = await doc.edit((line, 13), (line, 18), "betaa")      # `beta1` -> `betaa`
    assert [(d.code, d.message) for d in got] == [("E0101", "undefined name `betaa`")]
    assert (got[0].range.start.line, got[0].range.start.character) == (line, 13)
    got = await doc.edit((line, 13), (line, 18), "beta1")
    assert got == []
    client.text_document_did_save(types.DidSaveTextDocumentParams(doc.ident))
    assert await doc.diagnostics() == []
    doc.close()


HALF_TYPED = """optimizer first:
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g
        x <- x -


optimizer second:
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * nosuch
"""


async def test_half_typed_line_keeps_the_rest_checked(client: LanguageClient, tmp_path):
    path = tmp_path / "half.iter"
    path.write_text(HALF_TYPED)
    doc = await Doc.open(client, path.as_uri(), HALF_TYPED)
    got = await doc.diagnostics()
    rows = as_rows(got)
    cli = sorted((r["code"], r["message"], r["line"] - 1, r["column"] - 1, r["end_line"] - 1, r["end_column"] - 1)
                 for r in cli_json(path))
    assert cli and all(r in rows for r in cli)             # the CLI's syntax error, as it reports it
    assert cli[0][0] in ("E0003", "E0004") and cli[0][2] == 6
    # ... and the other method is still checked
    assert ("E0101", "undefined name `nosuch`", 14, 22, 14, 28) in rows
    doc.close()


async def test_error_in_a_used_module_points_at_the_use(client: LanguageClient, tmp_path):
    (tmp_path / "helpers.iter").write_text("def half(u) = u * \n")
    text = "use helpers\n\noptimizer o:\n    param x: real[...]\n    oracle g = grad(x)\n    step:\n" \
           "        x <- x - half(g)\n"
    (tmp_path / "main.iter").write_text(text)
    doc = await Doc.open(client, _uri(tmp_path, "main.iter"), text)
    got = await doc.diagnostics()
    assert got and got[0].range.start.line == 0
    assert "helpers.iter" in got[0].message
    assert got[0].related_information[0].location.uri == (tmp_path / "helpers.iter").as_uri()
    doc.close()


async def test_columns_count_utf16_units(client: LanguageClient, tmp_path):
    """LSP columns are UTF-16 code units: an emoji before a name on its line counts twice."""
    text = ADAMW.read_text().replace("x <- x * (1 - lr * weight_decay)",
                                     'x <- x * (1 - lr * weight_decay) + 0 * dot("\U0001F600", nosuch)')
    doc = await Doc.open(client, _uri(tmp_path, "u.iter"), "\ufeff" + text)
    got = {d.code: d for d in await doc.diagnostics()}
    line = text.split("\n")[doc.pos("nosuch").line]
    python_col = line.index("nosuch")
    assert got["E0101"].range.start == types.Position(doc.pos("nosuch").line, python_col + 1)
    assert got["E0207"].range.end.character == line.index('",') + 2
    doc.close()


async def test_only_newlines_break_lines(client: LanguageClient, tmp_path):
    """Form feeds, vertical tabs and U+2028 in a comment do not start lines (in LSP, only
    \\n, \\r\\n and \\r do): a diagnostic below them is on the line the editor shows."""
    text = ADAMW.read_text().replace("# first moment", "# first\f\vmoment\u2028\x85") \
        .replace("m <- beta1 * m", "m <- betaa * m").replace("\n", "\r\n")
    doc = await Doc.open(client, _uri(tmp_path, "ff.iter"), text)
    (d,) = await doc.diagnostics()
    line = text.split("\n")[doc.pos("betaa").line]
    assert d.range.start == types.Position(doc.pos("betaa").line, line.index("betaa"))
    line_no = doc.pos("betaa").line
    await doc.set(text.replace("betaa", "beta1"))
    assert await doc.diagnostics() == [] and line_no > 20
    doc.close()


# ---------------------------------------------------------------- hover

async def test_hover_state_hyper_builtin_expression(client: LanguageClient):
    doc = await Doc.open(client, ADAMW.as_uri(), ADAMW.read_text())
    text = await hover_text(client, doc, "m <- beta1")
    assert "state m: real[...] = 0" in text and "element type `real`" in text and "`[...]`" in text
    text = await hover_text(client, doc, "lr * weight_decay")
    assert "hyper lr: real = 1e-3 where lr > 0" in text
    assert "default: `1e-3`" in text and "conditions: `lr > 0`" in text
    text = await hover_text(client, doc, "sqrt(1 - beta2")
    assert "sqrt(x)" in text and "elementwise square root" in text and "this call: `real`" in text
    text = await hover_text(client, doc, "step_size =")
    assert "*let*" in text and "`real`" in text and "scalar" in text
    text = await hover_text(client, doc, "* g * g", delta=0)              # the operator `*`
    assert "elementwise product" in text and "real[...]" in text
    text = await hover_text(client, doc, "amsgrad: bool")
    assert "default: `false`" in text and "conditions: none" in text
    doc.close()


async def test_hover_domain_shape_and_dims(client: LanguageClient):
    doc = await Doc.open(client, SINKHORN.as_uri(), SINKHORN.read_text())
    text = await hover_text(client, doc, "a: real[n] in simplex")
    assert "input a: real[n] in simplex" in text and "shape `[n]` (rank 1)" in text
    assert "domain: `simplex`" in text
    text = await hover_text(client, doc, "simplex")
    assert "*domain* `simplex`" in text
    text = await hover_text(client, doc, "P = exp")
    assert "real[n, m]" in text and "rank 2" in text
    text = await hover_text(client, doc, "g[None, :]", delta=3)           # the index expression
    assert "real[1, m]" in text
    doc.close()


# ---------------------------------------------------------------- navigation

async def test_definition_and_references(client: LanguageClient):
    doc = await Doc.open(client, ADAMW.as_uri(), ADAMW.read_text())
    locs = await client.text_document_definition_async(types.DefinitionParams(doc.ident, doc.pos("/ bc2_sqrt", 1, 2)))
    assert len(locs) == 1 and locs[0].uri == doc.uri
    assert locs[0].range.start == doc.pos("bc2_sqrt =")
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc.ident, position=doc.pos("state v:", delta=6),
        context=types.ReferenceContext(include_declaration=True)))
    assert len(refs) == 5                   # state v, `v <- beta2 * v`, `max(vmax, v)`, `sqrt(v)`
    assert refs[0].range.start == doc.pos("v:")
    refs_no_decl = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc.ident, position=doc.pos("state v:", delta=6),
        context=types.ReferenceContext(include_declaration=False)))
    assert len(refs_no_decl) == len(refs) - 1
    doc.close()


async def test_definition_across_use(client: LanguageClient, tmp_path):
    (tmp_path / "helpers.iter").write_text('def lerp(a, b, w) = a + w * (b - a)\n')
    text = ("use helpers\nuse optim.adam\nuse \"helpers.iter\" as h\n\noptimizer o:\n    param x: real[...]\n"
            "    oracle g = grad(x)\n    state m: real[...] = 0\n    step:\n        m <- lerp(g, m, 0.9)\n"
            "        x <- x - h.lerp(m, g, 0.5)\n")
    (tmp_path / "main.iter").write_text(text)
    doc = await Doc.open(client, _uri(tmp_path, "main.iter"), text)
    assert await doc.diagnostics() == []
    locs = await client.text_document_definition_async(types.DefinitionParams(doc.ident, doc.pos("lerp(g")))
    assert locs[0].uri == (tmp_path / "helpers.iter").as_uri() and locs[0].range.start == types.Position(0, 4)
    locs = await client.text_document_definition_async(types.DefinitionParams(doc.ident, doc.pos("lerp(m", delta=1)))
    assert locs[0].uri == (tmp_path / "helpers.iter").as_uri()
    locs = await client.text_document_definition_async(types.DefinitionParams(doc.ident, doc.pos("adam")))
    assert locs[0].uri == (STDLIB / "optim" / "adam.iter").as_uri()
    text = await hover_text(client, doc, "lerp(g")
    assert "def lerp(a, b, w)" in text and "helpers.iter" in text and "this call: `real[...]`" in text
    doc.close()


async def test_rename(client: LanguageClient):
    doc = await Doc.open(client, ADAMW.as_uri(), ADAMW.read_text())
    pos = doc.pos("state m:", delta=6)
    prep = await client.text_document_prepare_rename_async(types.PrepareRenameParams(doc.ident, pos))
    assert prep.placeholder == "m"
    edit = await client.text_document_rename_async(types.RenameParams(doc.ident, pos, "mom"))
    edits = edit.changes[doc.uri]
    assert len(edits) == 5                  # state m, `m <- beta1 * m`, `step_size * m` twice
    assert {e.new_text for e in edits} == {"mom"}
    # a hyper, from one of its uses
    edit = await client.text_document_rename_async(types.RenameParams(doc.ident, doc.pos("weight_decay)"), "wd"))
    assert len(edit.changes[doc.uri]) == 3
    # a local
    edit = await client.text_document_rename_async(types.RenameParams(doc.ident, doc.pos("step_size ="), "alpha"))
    assert len(edit.changes[doc.uri]) == 3
    for bad in ("lambda", "2x", "norm", "beta2"):
        with pytest.raises(Exception) as info:
            await client.text_document_rename_async(types.RenameParams(doc.ident, pos, bad))
        assert "cannot" in str(info.value) or "not a name" in str(info.value) or "already" in str(info.value) \
            or "builtin" in str(info.value)
    with pytest.raises(Exception):
        await client.text_document_prepare_rename_async(types.PrepareRenameParams(doc.ident, doc.pos("sqrt(")))
    doc.close()


# ---------------------------------------------------------------- completion

def labels(result) -> set[str]:
    items = result.items if hasattr(result, "items") else result
    return {i.label for i in items}


async def complete_at(client, doc: Doc, pos: types.Position):
    return await client.text_document_completion_async(types.CompletionParams(doc.ident, pos))


async def test_completion_in_context(client: LanguageClient, tmp_path):
    text = ADAMW.read_text()
    doc = await Doc.open(client, _uri(tmp_path, "c.iter"), text)
    # an expression: names in scope with their types, builtins with signatures
    line = doc.pos("let bc2_sqrt").line
    await doc.edit((line, 0), (line, 0), "        let z = bc\n")
    result = await complete_at(client, doc, types.Position(line, 18))
    names = labels(result)
    assert {"step_size", "lr", "m", "x", "g", "t", "sqrt", "norm", "clip"} <= names
    assert "bc2_sqrt" not in names                          # declared below: not in scope yet
    items = {i.label: i for i in result.items}
    assert items["step_size"].detail == "let: real" and items["m"].detail == "state: real[...]"
    assert items["clip"].detail == "clip(x, lo, hi)" and "clamp" in items["clip"].documentation.value
    assert items["norm"].detail == "norm(x, axis=)"
    # statement keywords at the start of a step line, with the names that `<-` can update
    await doc.edit((line, 0), (line + 1, 0), "        \n")
    names = labels(await complete_at(client, doc, types.Position(line, 8)))
    assert {"let", "if", "every", "for", "repeat", "m", "v", "x"} <= names and "sqrt" not in names
    # member keywords
    await doc.edit((line, 0), (line + 1, 0), "")
    hline = doc.pos("hyper amsgrad").line
    await doc.edit((hline, 0), (hline, 0), "    \n")
    names = labels(await complete_at(client, doc, types.Position(hline, 4)))
    assert {"hyper", "param", "state", "oracle", "step", "converges"} <= names and "input" not in names
    await doc.edit((hline, 0), (hline + 1, 0), "")
    # top-level keywords
    names = labels(await complete_at(client, doc, types.Position(0, 0)))
    assert names == {"optimizer", "solver", "def", "use"}
    doc.close()


async def test_completion_use_domains_types(client: LanguageClient, tmp_path):
    text = "use \n\noptimizer o:\n    param x: real[n] in \n    state s: \n"
    doc = await Doc.open(client, _uri(tmp_path, "d.iter"), text)
    names = labels(await complete_at(client, doc, types.Position(0, 4)))
    assert {"optim.adamw", "optim.adam", "optim.sgd"} <= names
    names = labels(await complete_at(client, doc, types.Position(3, 24)))
    assert names == {"simplex", "nonneg", "positive", "box", "ball", "sphere", "psd", "stiefel"}
    names = labels(await complete_at(client, doc, types.Position(4, 13)))
    assert {"real", "int", "bool", "f32", "bf16"} <= names
    doc.close()
    # on a hyper's line: only hypers, and `where` until there is one
    text = ADAMW.read_text().replace("hyper amsgrad: bool = false", "hyper amsgrad: bool = false w")
    doc = await Doc.open(client, _uri(tmp_path, "w.iter"), text)
    pos = doc.pos("false w", delta=7)
    names = labels(await complete_at(client, doc, pos))
    assert "where" in names and {"lr", "beta1"} <= names and not {"x", "m", "sqrt"} & names
    doc.close()
    # an oracle's kind, with the param filled in (from the rest of the method, which parses)
    text = ADAMW.read_text().replace("    oracle g = grad(x)\n", "    oracle g = grad(x)\n    oracle h = \n")
    doc = await Doc.open(client, _uri(tmp_path, "o.iter"), text)
    pos = doc.pos("oracle h = ", delta=len("oracle h = "))
    items = (await complete_at(client, doc, pos)).items
    assert {i.label for i in items} == {"grad", "value", "hvp", "hess_diag", "rand_normal"}
    assert next(i for i in items if i.label == "hvp").insert_text == "hvp(x, u)"
    doc.close()


async def test_completion_on_a_half_typed_line(client: LanguageClient, tmp_path):
    """The line being typed does not parse; names still come from the rest of the method."""
    text = ADAMW.read_text()
    doc = await Doc.open(client, _uri(tmp_path, "h.iter"), text)
    line = doc.pos("if amsgrad").line
    diags = await doc.edit((line, 0), (line, 0), "        x <- x - (step_size * \n")
    assert any(d.severity == types.DiagnosticSeverity.Error for d in diags)
    names = labels(await complete_at(client, doc, types.Position(line, 30)))
    assert {"step_size", "bc2_sqrt", "vmax", "eps", "sqrt"} <= names
    doc.close()


async def test_signature_help(client: LanguageClient, tmp_path):
    text = ADAMW.read_text()
    doc = await Doc.open(client, _uri(tmp_path, "s.iter"), text)
    line = doc.pos("if amsgrad").line
    await doc.edit((line, 0), (line, 0), "        x <- clip(x, m, \n")
    help_ = await client.text_document_signature_help_async(types.SignatureHelpParams(
        doc.ident, types.Position(line, 24)))
    sig = help_.signatures[0]
    assert sig.label == "clip(x, lo, hi)" and help_.active_parameter == 2
    assert sig.parameters[2].label == (12, 14)
    await doc.edit((line, 0), (line + 1, 0), "        let n = norm(g, ax\n")
    help_ = await client.text_document_signature_help_async(types.SignatureHelpParams(
        doc.ident, types.Position(line, 26)))
    assert help_.signatures[0].label == "norm(x, axis=)" and help_.active_parameter == 1
    doc.close()


# ---------------------------------------------------------------- symbols, format, tokens

async def test_document_symbols(client: LanguageClient):
    doc = await Doc.open(client, ADAMW.as_uri(), ADAMW.read_text())
    syms = await client.text_document_document_symbol_async(types.DocumentSymbolParams(doc.ident))
    assert [s.name for s in syms] == ["adamw"] and syms[0].kind == types.SymbolKind.Class
    children = [(c.name, c.kind) for c in syms[0].children]
    assert children[:6] == [(n, types.SymbolKind.Constant) for n in
                            ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad")]
    assert ("x", types.SymbolKind.Field) in children and ("m", types.SymbolKind.Variable) in children
    step = next(c for c in syms[0].children if c.name == "step t")
    assert [c.name for c in step.children] == ["step_size", "bc2_sqrt"]
    doc.close()


async def test_formatting_is_iterc_fmt(client: LanguageClient, tmp_path):
    messy = ADAMW.read_text().replace("x * (1 - lr * weight_decay)", "x*(1-lr*weight_decay)") \
        .replace("    hyper lr: real = 1e-3 where lr > 0", "    hyper lr : real=1e-3 where lr>0")
    doc = await Doc.open(client, _uri(tmp_path, "f.iter"), messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        doc.ident, types.FormattingOptions(tab_size=4, insert_spaces=True)))
    proc = subprocess.run([sys.executable, "-m", "iterc", "fmt", "-"], input=messy, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0
    assert len(edits) == 1 and edits[0].new_text == proc.stdout == ADAMW.read_text()
    assert edits[0].range.start == types.Position(0, 0)
    assert edits[0].range.end == types.Position(messy.count("\n"), 0)
    doc.close()
    doc = await Doc.open(client, ADAMW.as_uri(), ADAMW.read_text())
    assert list(await client.text_document_formatting_async(types.DocumentFormattingParams(
        doc.ident, types.FormattingOptions(tab_size=4, insert_spaces=True)))) == []
    doc.close()


def decode_tokens(data: list[int], legend: types.SemanticTokensLegend, text: str) -> list[tuple[str, str, set]]:
    lines = text.split("\n")
    out, line, char = [], 0, 0
    for i in range(0, len(data), 5):
        dl, dc, length, kind, mods = data[i:i + 5]
        line += dl
        char = dc if dl else char + dc
        names = {m for j, m in enumerate(legend.token_modifiers) if mods & (1 << j)}
        out.append((lines[line][char:char + length], legend.token_types[kind], names))
    return out


async def test_semantic_tokens(client: LanguageClient):
    doc = await Doc.open(client, ADAMW.as_uri(), ADAMW.read_text())
    legend = client.init_result.capabilities.semantic_tokens_provider.legend
    result = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(doc.ident))
    tokens = decode_tokens(result.data, legend, doc.text)
    by_text = {}
    for text, kind, mods in tokens:
        by_text.setdefault(text, (kind, mods))
    assert by_text["optimizer"][0] == "keyword" and by_text["hyper"][0] == "keyword"
    assert by_text["adamw"] == ("class", {"declaration"})
    assert by_text["lr"] == ("variable", {"readonly", "declaration"})
    assert by_text["sqrt"] == ("function", {"defaultLibrary"})
    assert by_text["real"][0] == "type" and by_text["1e-3"][0] == "number"
    assert by_text["# first moment"][0] == "comment"
    assert by_text['"""AdamW: Adam with decoupled weight decay.'][0] == "string"
    assert ("grad", "function", {"defaultLibrary"}) in tokens
    doc.close()


# ---------------------------------------------------------------- code actions and inlay hints

async def actions_at(client, doc: Doc, line: int):
    rng = types.Range(types.Position(line, 0), types.Position(line, 200))
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=doc.ident, range=rng, context=types.CodeActionContext(diagnostics=[])))


def apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")
    offset = lambda p: sum(len(x) + 1 for x in lines[:p.line]) + p.character     # noqa: E731
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[:offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


FIXABLE = """optimizer o:
    hyper lr: real = 0.1 where lr > 0
    hyper k: int = 5
    param W: real[m, n]
    oracle g = grad(W)
    state r: real[m] = 0
    step:
        every k:
            r <- norm(g, axis=1)
        W <- W - lrr * g / r
"""


async def test_code_actions_apply_the_checkers_fixes(client: LanguageClient, tmp_path):
    doc = await Doc.open(client, _uri(tmp_path, "fix.iter"), FIXABLE)
    codes = {d.code for d in await doc.diagnostics()}
    assert {"E0101", "W0007"} <= codes
    actions = await actions_at(client, doc, 9)
    assert [a.title for a in actions] == ["replace `lrr` with `lr`"]
    assert actions[0].kind == types.CodeActionKind.QuickFix and actions[0].diagnostics[0].code == "E0101"
    fixed = apply(doc.text, actions[0].edit.changes[doc.uri])
    assert "W - lr * g / r" in fixed
    codes = {d.code for d in await doc.set(fixed)}
    assert "E0101" not in codes and "E0201" in codes
    actions = await actions_at(client, doc, 9)
    assert [a.title for a in actions] == ["insert an axis: `r[:, None]`"]
    fixed = apply(doc.text, actions[0].edit.changes[doc.uri])
    assert "lr * g / r[:, None]" in fixed
    assert {d.code for d in await doc.set(fixed)} == {"W0007"}
    actions = await actions_at(client, doc, 7)
    assert [a.title for a in actions] == ["add `where k >= 1` to `hyper k`"]
    fixed = apply(doc.text, actions[0].edit.changes[doc.uri])
    assert "hyper k: int = 5 where k >= 1\n" in fixed
    assert await doc.set(fixed) == []
    doc.close()


async def test_inlay_hints_give_the_shape_of_each_let(client: LanguageClient):
    doc = await Doc.open(client, SINKHORN.as_uri(), SINKHORN.read_text())
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        doc.ident, types.Range(types.Position(0, 0), types.Position(len(doc.text.split("\n")), 0))))
    assert [(h.label, h.position) for h in hints] == [(": real[n, m]", doc.pos("P = exp", delta=1))]
    doc.close()
    doc = await Doc.open(client, ADAMW.as_uri(), ADAMW.read_text())
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        doc.ident, types.Range(types.Position(0, 0), types.Position(100, 0))))
    assert [h.label for h in hints] == [": real", ": real"]
    doc.close()


# ---------------------------------------------------------------- the last good analysis

async def test_broken_text_answers_from_the_last_good_analysis(client: LanguageClient, tmp_path):
    text = ADAMW.read_text()
    doc = await Doc.open(client, _uri(tmp_path, "g.iter"), text)
    line = doc.pos("m <- beta1").line
    diags = await doc.edit((line, 0), (line, 0), "        m <- (\n")       # an unclosed bracket
    assert [d.code for d in diags] == ["E0003"] and diags[0].range.start.line == line
    # the method does not parse now; hover and symbols come from the last good text,
    # at the places the names have now (one line further down)
    text_ = await hover_text(client, doc, "v <- beta2")
    assert "state v: real[...] = 0" in text_
    h = await client.text_document_hover_async(types.HoverParams(doc.ident, doc.pos("v <- beta2")))
    assert h.range.start == doc.pos("v <- beta2")
    syms = await client.text_document_document_symbol_async(types.DocumentSymbolParams(doc.ident))
    assert [s.name for s in syms] == ["adamw"] and len(syms[0].children) >= 10
    step = next(c for c in syms[0].children if c.name == "step t")
    assert step.range.end.line == doc.pos("converges").line - 2
    locs = await client.text_document_definition_async(types.DefinitionParams(doc.ident, doc.pos("/ bc2_sqrt", 1, 2)))
    assert locs[0].range.start == doc.pos("bc2_sqrt =")
    doc.close()
