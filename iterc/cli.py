"""The `iterc` command line: check, compile, fmt, list, doc, lsp.

Exit codes: 0 success (warnings included), 1 the input has errors (or `fmt --check` would
reformat), 2 a usage error (click's own), 3 an internal error, i.e. a bug in iterc.
Everything but click is imported inside the command that needs it, so `iterc check`
starts fast and never pulls in a backend's libraries.
"""
from __future__ import annotations

import os
import sys

import click

from . import __version__

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

from .backends import AVAILABLE as AVAILABLE_TARGETS, TARGETS  # noqa: E402  (import-light)


class _Group(click.Group):
    """Turns an unexpected exception in any command into a short report and exit 3."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit, KeyboardInterrupt, BrokenPipeError):
            raise                                     # click reports these (a closed pipe quietly)
        except Exception as exc:                      # noqa: BLE001 - the one choke point
            if os.environ.get("ITERC_DEBUG") == "1":
                raise
            message = str(exc).strip().splitlines()
            click.echo(f"internal error: {type(exc).__name__}"
                       + (f": {message[0]}" if message else ""), err=True)
            click.echo("This is a bug in iterc, not in your program. Please report it with the "
                       "command and the input file; ITERC_DEBUG=1 shows the traceback.", err=True)
        ctx.exit(EXIT_INTERNAL)


def _use_color(choice: str, err: bool = False) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    stream = sys.stderr if err else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_color_option = click.option(
    "--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
    help="Colour diagnostics (auto: only on a terminal, and never when NO_COLOR is set).")


def _render(diags, color: bool) -> str:
    from .diagnostics import render_all
    return render_all(diags, color=color)


def _atomic_write(path: str, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same folder and a rename, so that
    `path` is either untouched or complete. An existing file keeps its permissions."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_output(path: str, text: str) -> None:
    try:
        _atomic_write(path, text)
    except OSError as exc:
        raise click.ClickException(f"cannot write `{path}`: {exc.strerror or exc}") from None


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    # click.version_option's words, without its gettext lookup (which imports `locale`)
    if value and not ctx.resilient_parsing:
        click.echo(f"iterc, version {__version__}")
        ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def cli() -> None:
    """iterc: check, compile and format `.iter` optimizers and solvers."""


# ---------------------------------------------------------------- check

@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text for people, json (one array) for tools.")
@_color_option
def check(files: tuple[str, ...], output_format: str, color: str) -> None:
    """Check FILES: syntax, names, shapes, types and convergence claims.

    Each of FILES is a .iter file, a directory (its .iter files, recursively) or the name of
    a standard-library method (`adamw`, `optim.adamw`)."""
    from . import api

    failed = False
    rows: list[dict] = []
    use_color = _use_color(color)
    for path, problems in api.expand_inputs(files):
        result = api.CheckResult(problems) if problems else api.check_file(path)
        failed |= any(d.is_error for d in result.diagnostics)
        if output_format == "json":
            rows.extend(_json_rows(result.diagnostics, path))
        elif result.diagnostics:
            click.echo(_render(result.diagnostics, use_color), color=use_color)
        else:
            click.echo(f"ok: {path}")
    if output_format == "json":
        import json
        click.echo(json.dumps(rows, indent=2))
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)


def _json_rows(diags, path: str) -> list[dict]:
    import json

    from .diagnostics import to_json
    rows = json.loads(to_json(diags))
    for row in rows:
        row.setdefault("file", path)                  # unreadable files have no span
    return rows


# ---------------------------------------------------------------- compile

@cli.command("compile")
@click.argument("file")
@click.option("--target", "-t", type=click.Choice(TARGETS), default="numpy", show_default=True,
              help="Which backend to generate code for.")
@click.option("-o", "--output", "out", metavar="OUT", default=None,
              help="Write the result to OUT (atomically) instead of stdout.")
@click.option("--emit", type=click.Choice(["py", "ast", "ir"]), default="py", show_default=True,
              help="py: the generated module; ast: the parsed syntax tree; ir: the lowered IR (debugging aids).")
@_color_option
def compile_cmd(file: str, target: str, out: str | None, emit: str, color: str) -> None:
    """Compile FILE to a Python module for a backend."""
    if emit == "ast":
        text = _ast_dump(file, color)
    elif emit == "ir":
        from . import api
        from .diagnostics import DiagnosticError
        try:
            text = api.compile_ir_text(file)
        except DiagnosticError as exc:
            click.echo(_render(exc.diagnostics, _use_color(color, err=True)), err=True,
                       color=_use_color(color, err=True))
            sys.exit(EXIT_ERRORS)
    else:
        if target not in AVAILABLE_TARGETS:
            click.echo(f"error: target `{target}` is not available yet "
                       f"(available: {', '.join(AVAILABLE_TARGETS)})", err=True)
            sys.exit(EXIT_USAGE)
        from . import api
        from .diagnostics import DiagnosticError
        try:
            text = api.compile_file(file, target)
        except DiagnosticError as exc:
            click.echo(_render(exc.diagnostics, _use_color(color, err=True)), err=True,
                       color=_use_color(color, err=True))
            sys.exit(EXIT_ERRORS)
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        _write_output(out, text if text.endswith("\n") else text + "\n")


def _ast_dump(file: str, color: str) -> str:
    import pprint

    from . import api
    from .syntax.parser import parse_source
    source, diags = api.read_source(file)
    module = None
    if source is not None:
        module, diags = parse_source(source)
    if module is None:
        use = _use_color(color, err=True)
        click.echo(_render(diags, use), err=True, color=use)
        sys.exit(EXIT_ERRORS)
    from ._records import as_dataclasses
    from .syntax.source import Span
    return pprint.pformat(as_dataclasses(module, keep=(Span,)), width=100) + "\n"


# ---------------------------------------------------------------- fmt

@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; list the files that would change and exit 1 if any.")
@_color_option
def fmt(files: tuple[str, ...], check_only: bool, color: str) -> None:
    """Rewrite FILES in the canonical layout (`-` formats stdin to stdout).

    Each of FILES is a .iter file, a directory (its .iter files, recursively), the name of
    a standard-library method (`adamw`, `optim.adamw`), or `-`."""
    from . import api
    from .fmt import format_source

    status = EXIT_OK
    use_color = _use_color(color, err=True)
    inputs: list = []
    for f in files:
        inputs.extend([(f, [])] if f == "-" else api.expand_inputs([f]))
    for path, problems in inputs:
        if problems:
            source, diags = None, problems
        elif path == "-":
            from .syntax.parser import decode
            source, diags = decode("<stdin>", sys.stdin.buffer.read())
        else:
            source, diags = api.read_source(path)
        formatted = None
        if source is not None:
            formatted, diags = format_source(source.text, source.path)
        if formatted is None:
            click.echo(_render(diags, use_color), err=True, color=use_color)
            status = EXIT_ERRORS
            continue
        if path == "-":
            if not check_only:
                click.echo(formatted, nl=False)
            continue
        with open(path, "rb") as f:
            unchanged = f.read() == formatted.encode("utf-8")
        if unchanged:
            continue
        if check_only:
            click.echo(f"would reformat {path}")
            status = EXIT_ERRORS
        else:
            _write_output(path, formatted)
            click.echo(f"reformatted {path}")
    sys.exit(status)


# ---------------------------------------------------------------- list

@cli.command("list")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def list_cmd(output_format: str) -> None:
    """List the methods of the standard library, then its files of defs (kind `defs`,
    named as `use` names them; text output only)."""
    from .stdlib_index import scan_library

    methods, modules, problems = scan_library()
    if output_format == "json":
        import json
        click.echo(json.dumps([m.to_dict() for m in methods], indent=2))
    elif methods or modules:
        rows = [(m.name, m.kind, m.family, m.summary, m.citation) for m in methods]
        rows += [(d.module, "defs", d.family or ".", d.summary, "use it for: " + ", ".join(
            s.split("(")[0] for s in d.defs)) for d in modules]
        wide_name = max(len(r[0]) for r in rows)
        wide_family = max(len(r[2]) for r in rows)
        for name, kind, family, summary, citation in rows:
            line = f"{name:<{wide_name}}  {kind:<9}  {family:<{wide_family}}  {summary}"
            if citation:
                line += f"  [{citation}]"
            click.echo(line.rstrip())
    if problems:
        click.echo(_render(problems, _use_color("auto", err=True)), err=True)
        sys.exit(EXIT_ERRORS)


# ---------------------------------------------------------------- doc

@cli.command()
@click.option("-o", "--output", "out", metavar="PATH", default=None,
              help="Write to PATH (atomically) instead of stdout.")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 if PATH (default docs/stdlib.md) differs from what would be written.")
def doc(out: str | None, check_only: bool) -> None:
    """Generate the standard library's reference (docs/stdlib.md) from its .iter files."""
    from .docgen import COMMAND, generate

    text, problems = generate()
    if problems:
        click.echo(_render(problems, _use_color("auto", err=True)), err=True)
        sys.exit(EXIT_ERRORS)
    if check_only:
        path = out or os.path.join("docs", "stdlib.md")
        try:
            with open(path, encoding="utf-8", newline="") as f:
                same = f.read() == text
        except OSError:
            same = False
        if not same:
            click.echo(f"{path} is out of date; run `{COMMAND}`", err=True)
            sys.exit(EXIT_ERRORS)
    elif out is None:
        click.echo(text, nl=False)
    else:
        _write_output(out, text)


# ---------------------------------------------------------------- lsp

@cli.command()
@click.option("--stdio", is_flag=True, help="Talk over stdin and stdout (the default, and the only transport).")
def lsp(stdio: bool) -> None:
    """Run the language server for editors, on stdin and stdout (needs `pip install "iterc[lsp]"`)."""
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError as exc:
        click.echo(f"error: `iterc lsp` needs pygls and lsprotocol ({exc}); "
                   "install them with: pip install \"iterc[lsp]\"", err=True)
        sys.exit(EXIT_USAGE)
    from .lsp import main as serve
    serve()


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`iterc`)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")   # never die printing a source line
        except (AttributeError, ValueError):
            pass
    cli.main(args=argv, prog_name="iterc")


if __name__ == "__main__":
    main()
