"""iterc: a declarative language and compiler for iterative methods."""
__version__ = "0.1.0"


def __getattr__(name):
    # Lazy: `import iterc` stays cheap; the API pulls in the pipeline on first use.
    if name in ("check_file", "check_text", "compile_file", "load", "stdlib_dir", "CheckResult", "list_stdlib"):
        from . import api
        return getattr(api, name)
    if name in ("install_import_hook", "uninstall_import_hook"):
        from . import importhook
        return getattr(importhook, name)
    if name in ("DiagnosticError",):
        from .diagnostics import DiagnosticError
        return DiagnosticError
    raise AttributeError(name)
