"""The language server never crashes or stops answering: every line prefix of every stdlib
file, and random edits of them (hypothesis), go to one server session as didChange; each
must come back with diagnostics for its version, none of them an internal error, and the
server must still answer requests afterwards.

The session runs on an event loop in a background thread, so that hypothesis (which wants
plain functions) can drive it synchronously."""
from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from lsp_support import CONFIG, STDLIB_FILES, start, wait_diagnostics

MAX_PREFIXES = 600          # keeps the test fast however large the stdlib grows
URI = "untitled:robust.iter"
FILE_URI = (STDLIB_FILES[0].parent / "robust_probe.iter").as_uri()   # a file: URI (never written)


class Session:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = self.run(CONFIG.start())
        self.run(start(self.client))
        self.versions: dict[str, int] = {}

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def open(self, uri: str, text: str):
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="iter", version=1, text=text)))
        return self.run(wait_diagnostics(self.client, uri, 1))

    def change(self, uri: str, text: str):
        self.versions[uri] += 1
        version = self.versions[uri]
        self.loop.call_soon_threadsafe(lambda: self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [types.TextDocumentContentChangeWholeDocument(text=text)])))
        return self.run(wait_diagnostics(self.client, uri, version))

    def close(self):
        try:
            self.run(self.client.shutdown_session(), timeout=20)
            self.run(self.client.stop(), timeout=20)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@pytest.fixture(scope="module")
def session():
    s = Session()
    s.open(URI, "")
    s.open(FILE_URI, "")
    yield s
    s.close()


def assert_sane(diags, text: str):
    lines = text.split("\n")
    for d in diags:
        assert "internal error" not in d.message, d.message
        assert d.source == "iterc" and d.code
        assert 0 <= d.range.start.line <= len(lines) and 0 <= d.range.end.line <= len(lines)


def prefixes() -> list[str]:
    out = []
    for path in STDLIB_FILES:
        text = path.read_text()
        lines = text.split("\n")
        for k in range(len(lines) + 1):
            head = "\n".join(lines[:k])
            out.append(head)
            if k < len(lines) and lines[k].strip():
                half = lines[k][:max(1, len(lines[k]) // 2)]
                out.append(head + ("\n" if k else "") + half)      # a half-typed line
    if len(out) > MAX_PREFIXES:
        step = len(out) / MAX_PREFIXES
        out = [out[int(i * step)] for i in range(MAX_PREFIXES)]
    return out


def test_every_line_prefix_of_the_stdlib(session):
    for text in prefixes():
        diags = session.change(FILE_URI, text)
        assert_sane(diags, text)
    # still answering requests after all that
    full = STDLIB_FILES[0].read_text()
    assert session.change(FILE_URI, full) == []
    doc = types.TextDocumentIdentifier(uri=FILE_URI)
    line = next(i for i, line in enumerate(full.split("\n")) if "<-" in line)
    col = full.split("\n")[line].index("<-") - 2
    hover = session.run(session.client.text_document_hover_async(types.HoverParams(doc, types.Position(line, col))))
    assert hover is not None


_PIECES = ["(", ")", "[", "]", ":", ",", "<-", "=", " ", "\n", "    ", "\t", "x", "lr", "1e-3", ".", "..", "#",
           '"', '"""', "where", "in", "let", "if", "else", "every", "step", "state", "real[...]", "@", "^", "-",
           "axis=1", "prev(", "use optim.adam\n", "def f(a) = a\n", "\u00e9", "\ufeff", "\r\n"]


@st.composite
def edited(draw):
    text = draw(st.sampled_from([p.read_text() for p in STDLIB_FILES]))
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.integers(0, len(text)))
        b = draw(st.integers(a, min(len(text), a + 40)))
        insert = "".join(draw(st.lists(st.sampled_from(_PIECES), max_size=6)))
        text = text[:a] + insert + text[b:]
    return text


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=edited())
def test_random_edits(session, text):
    diags = session.change(URI, text)
    assert_sane(diags, text)
    # every request kind still gets an answer (possibly empty), never an error
    doc = types.TextDocumentIdentifier(uri=URI)
    line = text.count("\n") // 2
    pos = types.Position(line, 4)
    c = session.client
    session.run(c.text_document_hover_async(types.HoverParams(doc, pos)))
    session.run(c.text_document_completion_async(types.CompletionParams(doc, pos)))
    session.run(c.text_document_document_symbol_async(types.DocumentSymbolParams(doc)))
    session.run(c.text_document_semantic_tokens_full_async(types.SemanticTokensParams(doc)))
    session.run(c.text_document_inlay_hint_async(types.InlayHintParams(
        doc, types.Range(types.Position(0, 0), types.Position(line + 5, 0)))))
    session.run(c.text_document_signature_help_async(types.SignatureHelpParams(doc, pos)))
    session.run(c.text_document_formatting_async(types.DocumentFormattingParams(
        doc, types.FormattingOptions(tab_size=4, insert_spaces=True))))
    session.run(c.text_document_code_action_async(types.CodeActionParams(
        text_document=doc, range=types.Range(pos, pos), context=types.CodeActionContext(diagnostics=[]))))
    session.run(c.text_document_definition_async(types.DefinitionParams(doc, pos)))
