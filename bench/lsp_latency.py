"""How fast `iterc lsp` answers an edit: from sending didChange to receiving
publishDiagnostics for that version, on the 300-line file of bench/check_inprocess.py.

    python bench/lsp_latency.py [--edits 300] [--seed 0]

Two kinds of edits, one after the other (each waits for its diagnostics, so nothing is
coalesced): *valid* edits change a number somewhere (the file stays valid: the fast
parser and the checker), and *typing* edits type a new statement into a step one
character at a time (most intermediate texts do not parse: the lark parser reports the
error, the other items are still checked). Prints the median and 90th percentile of each
and of all edits. Target: a median under 50 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from check_inprocess import program  # noqa: E402


def _cpu_seconds(pid) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None."""
    import os
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


async def run(n_edits: int, seed: int) -> dict[str, list[float]]:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("lsp-latency", "0")
    arrived: dict[int, float] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: types.PublishDiagnosticsParams):
        if params.version is not None:
            arrived[params.version] = time.perf_counter()

    await client.start_io(sys.executable, "-m", "iterc", "lsp", cwd=str(ROOT))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())

    text = program()
    folder = tempfile.mkdtemp()
    path = Path(folder) / "bench.iter"
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="iter", version=1, text=text)))
    version = 1

    async def wait(v: int) -> None:
        while v not in arrived:
            await asyncio.sleep(0.0005)

    await wait(1)
    pid = client._server.pid if getattr(client, "_server", None) is not None else None
    cpu_before = _cpu_seconds(pid)
    lines = text.split("\n")
    rng = random.Random(seed)
    numbers = [(i, line.index("0.5")) for i, line in enumerate(lines) if "0.5" in line]
    steps = [i for i, line in enumerate(lines) if line.strip() == "m <- lerp(g, m, beta)"]
    times: dict[str, list[float]] = {"valid": [], "typing": []}

    async def change(start, end, new: str, kind: str) -> None:
        """Replace (line, col) start..end; the server syncs full text, so all of it is sent."""
        nonlocal version, lines
        version += 1
        offset = lambda p: sum(len(x) + 1 for x in lines[:p[0]]) + p[1]     # noqa: E731
        text = "\n".join(lines)
        text = text[:offset(start)] + new + text[offset(end):]
        lines = text.split("\n")
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangeWholeDocument(text=text)]))
        await wait(version)
        times[kind].append((arrived[version] - sent) * 1000)

    statement = "x <- x - 0.01 * g"
    while len(times["valid"]) + len(times["typing"]) < n_edits:
        line, col = rng.choice(numbers)
        digit = str(rng.randint(1, 9))
        await change((line, col + 2), (line, col + 3), digit, "valid")           # 0.5 -> 0.d
        await change((line, col + 2), (line, col + 3), "5", "valid")
        at = rng.choice(steps)
        await change((at, 0), (at, 0), "        \n", "valid")                   # a new blank line
        for k, ch in enumerate(statement):
            await change((at, 8 + k), (at, 8 + k), ch, "typing")
        await change((at, 0), (at + 1, 0), "", "valid")                         # and remove it again
    cpu_after = _cpu_seconds(pid)
    if cpu_before is not None and cpu_after is not None:
        times["cpu"] = [(cpu_after - cpu_before) * 1000 / (len(times["valid"]) + len(times["typing"]))]
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edits", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    times = asyncio.run(run(args.edits, args.seed))
    sys.path.insert(0, str(ROOT))
    from check_inprocess import median_ms
    reference = median_ms(program(), 30)
    everything = times["valid"] + times["typing"]
    print(f"{program().count(chr(10))}-line file, didChange -> publishDiagnostics, {len(everything)} edits:")
    for name, xs in (("valid edits", times["valid"]), ("typing (mostly not parsing)", times["typing"]),
                     ("all edits", everything)):
        xs = sorted(xs)
        p90 = xs[int(0.9 * (len(xs) - 1))]
        print(f"  {name:<28} n={len(xs):<4} median {statistics.median(xs):6.1f} ms   p90 {p90:6.1f} ms")
    if "cpu" in times:
        print(f"  server CPU time per edit (mean, all edits): {times['cpu'][0]:.1f} ms "
              "(what an edit costs when the server has a core to itself)")
    print(f"  for scale, right after: in-process check_text of the file, median {reference:.1f} ms "
          "(bench/check_inprocess.py; 10.6 ms on an idle machine)")
    print(f"target: median under 50 ms -> {'met' if statistics.median(everything) < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
