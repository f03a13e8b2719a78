// The iterc extension: starts `iterc lsp` (stdio) for .iter files. Highlighting comes from
// syntaxes/iter.tmLanguage.json, and from the server's semantic tokens once it runs.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

async function start() {
  const config = vscode.workspace.getConfiguration("iterc");
  const command = config.get("server.command", "iterc");
  const args = config.get("server.args", ["lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient("iterc", "iterc", server, {
    documentSelector: [
      { scheme: "file", language: "iter" },
      { scheme: "untitled", language: "iter" },
    ],
  });
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `iterc: cannot start \`${command} ${args.join(" ")}\` (${err}). ` +
      "Install it with `pip install \"iterc[lsp]\"`, or set iterc.server.command."
    );
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("iterc.server")) {
        await deactivate();
        await start();
      }
    })
  );
  await start();
}

async function deactivate() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

module.exports = { activate, deactivate };
