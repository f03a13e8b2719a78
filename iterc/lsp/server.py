"""The language server: pygls wiring, the documents' analyses, and which analysis answers.

Each open document has its current analysis (of the text as it is now: its diagnostics are
what gets published) and its last good one (the last text that parsed as a whole). A
question about a place that the current text cannot answer — inside a top-level item
with a syntax error — is answered from the last good analysis, with line numbers mapped
across the lines that changed since; the answer's ranges are mapped back.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import traceback
from typing import Optional

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from .. import __version__
from . import complete, features
from .analysis import Analysis, analyze, file_path_for

log = logging.getLogger("iterc.lsp")
REQUEST_FAILED = -32803


class Remap:
    """Line numbers between two versions of a text that differ in one run of lines."""

    def __init__(self, new_text: str, old_text: str):
        new, old = new_text.split("\n"), old_text.split("\n")
        n = min(len(new), len(old))
        p = 0
        while p < n and new[p] == old[p]:
            p += 1
        s = 0
        while s < n - p and new[-1 - s] == old[-1 - s]:
            s += 1
        self.p, self.s, self.nn, self.on = p, s, len(new), len(old)

    def to_old(self, line: int) -> Optional[int]:
        if line < self.p:
            return line
        if line >= self.nn - self.s:
            return line - self.nn + self.on
        return None

    def to_new(self, line: int, clamp: bool = False) -> Optional[int]:
        if line < self.p:
            return line
        if line >= self.on - self.s:
            return line + self.nn - self.on
        if clamp:
            return max(self.p, min(line, self.nn - self.s - 1))
        return None

    def range(self, rng: types.Range, clamp: bool = False) -> Optional[types.Range]:
        a, b = self.to_new(rng.start.line, clamp), self.to_new(rng.end.line, clamp)
        if a is None or b is None:
            return None
        start = types.Position(a, rng.start.character)
        end = types.Position(b, rng.end.character) if b >= a else start
        return types.Range(start, end)


def _norm(a: Analysis) -> str:
    """The text with LSP's line breaks as `\\n` (what positions count lines in)."""
    return a.source.text if a.source is not None else a.text.replace("\r\n", "\n").replace("\r", "\n")


class IterLanguageServer(LanguageServer):
    def __init__(self):
        # Full sync: the client sends the whole text on each change (a few kB for a long
        # .iter file). pygls applies incremental changes with str.splitlines, which also
        # breaks lines at \f, \v, \x85 or \u2028, where LSP does not: full text is exact.
        super().__init__("iterc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.current: dict[str, Analysis] = {}
        self.good: dict[str, Analysis] = {}

    # ------------------------------------------------------------ analyses

    @property
    def encoding(self) -> str:
        enc = self.workspace.position_encoding if self.workspace is not None else None
        return str(enc.value if hasattr(enc, "value") else enc or "utf-16")

    def analysis(self, uri: str) -> Optional[Analysis]:
        """The analysis of the document as it is now (made now if the text changed)."""
        doc = self.workspace.get_text_document(uri)
        text = doc.source
        a = self.current.get(uri)
        if a is not None and a.text == text and a.version == doc.version:
            return a
        a = self._analyze(uri, doc.version, text)
        self.current[uri] = a
        if a.parsed:
            self.good[uri] = a
        return a

    def _analyze(self, uri: str, version, text: str) -> Analysis:
        path = file_path_for(uri)
        try:
            return analyze(uri, version, text, path, self.encoding)
        except Exception as exc:                   # noqa: BLE001 - a bug in iterc: say so, keep serving
            log.error("iterc failed on %s:\n%s", uri, traceback.format_exc())
            from .positions import Lines
            return Analysis(uri, version, text, path, None, [], lines=Lines(text, self.encoding),
                            internal_error=f"{type(exc).__name__}: {exc}")

    def publish(self, uri: str) -> None:
        a = self.analysis(uri)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=a.version, diagnostics=features.lsp_diagnostics(a)))

    def pick(self, uri: str, pos: types.Position, stale: bool = True):
        """(analysis, offset, remap) that can answer about `pos`; remap is None when the
        analysis is of the current text. None when no analysis can."""
        a = self.analysis(uri)
        offset = a.lines.offset(pos)
        if a.module is not None and (a.parsed or not a.in_blanked(offset)):
            return a, offset, None
        g = self.good.get(uri)
        if not stale or g is None:
            return None
        r = Remap(_norm(a), _norm(g))
        line = r.to_old(pos.line)
        if line is None:
            return None
        return g, g.lines.offset(types.Position(line, pos.character)), r

    def completion_scope(self, uri: str, pos: types.Position):
        """An analysis whose names are in scope at `pos`, and the offset there: the current
        one; else the current text without the line being typed; else the last good one."""
        a = self.analysis(uri)
        offset = a.lines.offset(pos)
        if a.module is not None and (a.parsed or not a.in_blanked(offset)):
            return a, offset
        if a.source is not None:
            lines = a.source.text.split("\n")
            if pos.line < len(lines):
                lines[pos.line] = " " * len(lines[pos.line])
                repaired = analyze(uri, None, "\n".join(lines), a.path, self.encoding)
                if repaired.module is not None and (repaired.parsed or not repaired.in_blanked(offset)):
                    return repaired, offset
        g = self.good.get(uri)
        if g is None:
            return None
        r = Remap(_norm(a), _norm(g))
        line = pos.line
        while line >= 0 and r.to_old(line) is None:
            line -= 1
        if line < 0:
            return None
        old = r.to_old(line)
        return g, g.lines.offset(types.Position(old, 10 ** 6 if line < pos.line else pos.character))


def _fail(message: str):
    raise JsonRpcException(message=message, code=REQUEST_FAILED)


def create_server() -> IterLanguageServer:
    server = IterLanguageServer()

    @server.feature(types.INITIALIZED)
    def initialized(ls: IterLanguageServer, params: types.InitializedParams):
        # Load the lark parser now (a file with a syntax error needs it) rather than on the
        # first half-typed line, then move everything loaded so far out of the collector's
        # way: the parser tables and protocol classes live as long as the server.
        try:
            analyze("untitled:warmup", None, "optimizer o:\n    step:\n        x <-\n", "warmup.iter")
        except Exception:                          # noqa: BLE001 - only a warm-up
            log.exception("warm-up failed")
        gc.collect()
        gc.freeze()

    # ------------------------------------------------------------ documents

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: IterLanguageServer, params: types.DidOpenTextDocumentParams):
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: IterLanguageServer, params: types.DidChangeTextDocumentParams):
        uri, version = params.text_document.uri, params.text_document.version

        def later():
            # edits that arrived together are analysed once, at the newest version
            try:
                doc = ls.workspace.get_text_document(uri)
            except Exception:              # noqa: BLE001 - closed meanwhile
                return
            if uri in ls.workspace.text_documents and doc.version == version:
                ls.publish(uri)
        asyncio.get_running_loop().call_soon(later)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: IterLanguageServer, params: types.DidSaveTextDocumentParams):
        ls.current.pop(params.text_document.uri, None)      # files it uses may have changed
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: IterLanguageServer, params: types.DidCloseTextDocumentParams):
        uri = params.text_document.uri
        ls.current.pop(uri, None)
        ls.good.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    # ------------------------------------------------------------ questions

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: IterLanguageServer, params: types.HoverParams):
        found = ls.pick(params.text_document.uri, params.position)
        if found is None:
            return None
        a, offset, remap = found
        h = features.hover(a, offset)
        if h is not None and remap is not None and h.range is not None:
            h.range = remap.range(h.range)
        return h

    def _locations(ls, uri, locs, remap):
        if not locs or remap is None:
            return locs
        out = []
        for loc in locs:
            if loc.uri == uri:
                rng = remap.range(loc.range)
                if rng is None:
                    continue
                loc = types.Location(loc.uri, rng)
            out.append(loc)
        return out

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: IterLanguageServer, params: types.DefinitionParams):
        found = ls.pick(params.text_document.uri, params.position)
        if found is None:
            return None
        a, offset, remap = found
        return _locations(ls, params.text_document.uri, features.definition(a, offset), remap)

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def references(ls: IterLanguageServer, params: types.ReferenceParams):
        found = ls.pick(params.text_document.uri, params.position)
        if found is None:
            return None
        a, offset, remap = found
        return _locations(ls, params.text_document.uri,
                          features.references(a, offset, params.context.include_declaration), remap)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    def highlight(ls: IterLanguageServer, params: types.DocumentHighlightParams):
        found = ls.pick(params.text_document.uri, params.position, stale=False)
        if found is None:
            return None
        a, offset, _ = found
        return features.highlights(a, offset)

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(ls: IterLanguageServer, params: types.PrepareRenameParams):
        found = ls.pick(params.text_document.uri, params.position, stale=False)
        if found is None:
            _fail("this part of the file does not parse; fix the syntax error first")
        a, offset, _ = found
        try:
            return features.prepare_rename(a, offset)
        except features.RenameError as exc:
            _fail(str(exc))

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    def rename(ls: IterLanguageServer, params: types.RenameParams):
        found = ls.pick(params.text_document.uri, params.position, stale=False)
        if found is None:
            _fail("this part of the file does not parse; fix the syntax error first")
        a, offset, _ = found
        try:
            return features.rename(a, offset, params.new_name)
        except features.RenameError as exc:
            _fail(str(exc))

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
    def completion(ls: IterLanguageServer, params: types.CompletionParams):
        uri = params.text_document.uri
        doc = ls.workspace.get_text_document(uri)
        scope = ls.completion_scope(uri, params.position)
        return complete.completion(doc.source, params.position.line, params.position.character,
                                   file_path_for(uri), scope)

    @server.feature(types.TEXT_DOCUMENT_SIGNATURE_HELP,
                    types.SignatureHelpOptions(trigger_characters=["(", ","], retrigger_characters=[","]))
    def signature_help(ls: IterLanguageServer, params: types.SignatureHelpParams):
        uri = params.text_document.uri
        a = ls.analysis(uri)
        scope = ls.completion_scope(uri, params.position)
        text = a.source.text if a.source is not None else a.text
        return complete.signature_help(text, a.lines.offset(params.position), scope)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(ls: IterLanguageServer, params: types.DocumentSymbolParams):
        uri = params.text_document.uri
        a = ls.analysis(uri)
        g = ls.good.get(uri)
        if a.parsed or g is None:
            return features.document_symbols(a)
        remap = Remap(_norm(a), _norm(g))

        def move(sym: types.DocumentSymbol) -> types.DocumentSymbol:
            sym.range = remap.range(sym.range, clamp=True)
            sym.selection_range = remap.range(sym.selection_range, clamp=True)
            if sym.selection_range.start.line < sym.range.start.line or \
                    sym.selection_range.end.line > sym.range.end.line:
                sym.selection_range = types.Range(sym.range.start, sym.range.start)
            sym.children = [move(c) for c in sym.children] if sym.children else sym.children
            return sym
        return [move(s) for s in features.document_symbols(g)]

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: IterLanguageServer, params: types.DocumentFormattingParams):
        return features.formatting(ls.analysis(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, features.LEGEND)
    def semantic_tokens(ls: IterLanguageServer, params: types.SemanticTokensParams):
        return types.SemanticTokens(data=features.semantic_tokens(ls.analysis(params.text_document.uri)))

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_action(ls: IterLanguageServer, params: types.CodeActionParams):
        return features.code_actions(ls.analysis(params.text_document.uri), params.range)

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
    def inlay_hint(ls: IterLanguageServer, params: types.InlayHintParams):
        return features.inlay_hints(ls.analysis(params.text_document.uri), params.range)

    return server


def serve() -> None:
    create_server().start_io()
