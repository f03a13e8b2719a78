"""Shared by the LSP tests: a pytest-lsp client that drives `python -m iterc lsp` over stdio
and keeps every publishDiagnostics it receives, and helpers to open and edit documents."""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

ROOT = Path(__file__).resolve().parent.parent
STDLIB = ROOT / "stdlib"
STDLIB_FILES = sorted(STDLIB.rglob("*.iter"))
ADAMW = STDLIB / "optim" / "adamw.iter"


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=default_converter)
    client.published = []

    def publish(c: LanguageClient, params: types.PublishDiagnosticsParams):
        c.diagnostics[params.uri] = params.diagnostics
        c.published.append(params)

    register_lsp_features(client, dict(DEFAULT_CLIENT_FEATURES, **{types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish}))
    return client


CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "iterc", "lsp"],
    client_factory=make_client,
    server_env=dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")),
)


async def start(client: LanguageClient, spec: str = "visual-studio-code") -> types.InitializeResult:
    return await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(spec), root_uri=ROOT.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=ROOT.as_uri(), name="iterc")]))


async def wait_diagnostics(client: LanguageClient, uri: str, version: int, timeout: float = 20.0):
    """The diagnostics the server published for `uri` at `version` (waits for them)."""
    async def poll():
        while True:
            for p in reversed(client.published):
                if p.uri == uri and p.version == version:
                    return list(p.diagnostics)
            if client.error is not None:
                raise RuntimeError(f"client error: {client.error}")
            await asyncio.sleep(0.002)
    return await asyncio.wait_for(poll(), timeout)


class Doc:
    """One open document: open it, replace its text, and ask for its diagnostics."""

    def __init__(self, client: LanguageClient, uri: str, text: str):
        self.client, self.uri, self.text, self.version = client, uri, text, 1

    @classmethod
    async def open(cls, client: LanguageClient, uri: str, text: str) -> "Doc":
        doc = cls(client, uri, text)
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="iter", version=1, text=text)))
        await wait_diagnostics(client, uri, 1)
        return doc

    async def diagnostics(self):
        return await wait_diagnostics(self.client, self.uri, self.version)

    async def set(self, text: str):
        """Replace the whole text (a full-content change) and wait for the diagnostics."""
        self.version += 1
        self.text = text
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            [types.TextDocumentContentChangeWholeDocument(text=text)]))
        return await self.diagnostics()

    async def edit(self, start: tuple[int, int], end: tuple[int, int], new: str):
        """Replace the range (line, character) start..end (ASCII lines); the server asks for
        full-text sync, so the whole new text is sent."""
        lines = self.text.split("\n")
        offset = lambda p: sum(len(x) + 1 for x in lines[:p[0]]) + p[1]     # noqa: E731
        return await self.set(self.text[:offset(start)] + new + self.text[offset(end):])

    def close(self):
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(
            types.TextDocumentIdentifier(uri=self.uri)))

    def pos(self, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
        """The position of the nth occurrence of `needle` (plus `delta` characters)."""
        at = -1
        for _ in range(nth + 1):
            at = self.text.index(needle, at + 1)
        at += delta
        line = self.text.count("\n", 0, at)
        return types.Position(line, at - (self.text.rfind("\n", 0, at) + 1))

    @property
    def ident(self) -> types.TextDocumentIdentifier:
        return types.TextDocumentIdentifier(uri=self.uri)
