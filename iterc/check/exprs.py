"""Typing of expressions: names, operators, builtin and def calls, indexing.

`ExprChecker.check` is the one choke point every expression goes through. It returns the
expression's Type, or None after reporting a diagnostic (None stops cascades: an
expression with an erroneous part is not reported again).
"""
from __future__ import annotations

from typing import Callable, Optional

from ..builtins import OPERATORS, REGISTRY, UNARY_OPERATORS, BuiltinError, Kind, Sig, lookup
from ..diagnostics import Diagnostic, Note, Suggestion, error
from ..syntax import ast
from ..types import BOOL, INT, LEAF, REAL, FnType, Type, shape_str
from .fixes import axis_fix
from .model import CallInfo, DefExpansion, Symbol, Typing
from .names import ORACLE_KINDS, did_you_mean, suggest, unknown_function_hint

_KIND_WORDS = {"hyper": "hyper", "param": "parameter", "oracle": "oracle", "state": "state",
               "input": "input", "dim": "dimension", "let": "let binding", "local": "let binding", "var": "loop variable",
               "counter": "step counter", "loopvar": "loop variable", "defarg": "def argument"}


def _a_kind(kind: str) -> str:
    """"a hyper", "an oracle": the kind of a symbol in words, with its article."""
    word = _KIND_WORDS.get(kind, kind)
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


class Scopes:
    """Nested name scopes: method members at the bottom, `let` blocks and loops above."""

    def __init__(self, base: dict[str, Symbol]):
        self.stack: list[dict[str, Symbol]] = [base]
        self.ended: dict[str, Symbol] = {}      # names of blocks that have ended, for E0101's note

    def lookup(self, name: str) -> Optional[Symbol]:
        for frame in reversed(self.stack):
            if name in frame:
                return frame[name]
        return None

    def push(self) -> None:
        self.stack.append({})

    def pop(self) -> None:
        self.ended.update(self.stack.pop())

    def bind(self, sym: Symbol) -> None:
        self.stack[-1][sym.name] = sym

    def visible(self) -> list[str]:
        return [n for frame in self.stack for n in frame]


class ExprChecker:
    def __init__(self, diags: list[Diagnostic], scopes: Scopes, typing: Typing, defs: dict[str, ast.Def],
                 aliases: dict[str, dict[str, ast.Def]]):
        self.diags = diags
        self.scopes = scopes
        self.typing = typing
        self.defs = defs
        self.aliases = aliases
        self.tuple_ok = False                  # a `let a, b = ...` is checking its value
        self.reads: set[str] = set()
        self.read_symbols: set[int] = set()       # by identity: sibling blocks may reuse a name              # symbol names read (for unused warnings)
        self.read_hook: Optional[Callable[[Symbol, ast.Name], Optional[str]]] = None
        # called with a Name not in scope; True when it has reported the problem itself
        self.undefined_hook: Optional[Callable[[ast.Name], bool]] = None
        self.expanding: list[str] = []
        self._method_scopes: Optional[Scopes] = None     # while expanding defs: the calling method's names
        self.expansion_notes: list[Note] = []
        self.prev_allowed = False
        self.prev_used: set[str] = set()
        # where random draws may appear (a step, a solver's lets and `until`): called with the
        # draw, True when it reported a problem (no `seed` hyper). None: no draws here.
        self.draw_hook: Optional[Callable[[ast.Call], bool]] = None
        # Leaf dependence: per checked node, why its value differs from leaf to leaf of the
        # parameter tree ((name read, root cause)), or None for one value per step.
        self.leaf: dict[int, Optional[tuple[str, str]]] = {}
        # Model-wide builtins (`total`, `global_norm`): where they are not allowed, the place
        # in words ("solver", or a member such as "a state's initial value"); None in a step.
        self.model_denied: Optional[str] = None
        # called at each model-wide builtin call inside a step (the step checks its context)
        self.model_hook: Optional[Callable[[str, ast.Call], None]] = None
        self._dispatch = {
            ast.Num: self._num, ast.Bool: self._bool, ast.Str: self._str, ast.Name: self._name,
            ast.Unary: self._unary, ast.Binary: self._binary, ast.Compare: self._compare,
            ast.Call: self._call, ast.Index: self._index, ast.Attr: self._attr,
        }

    # ------------------------------------------------------------ plumbing

    def report(self, d: Diagnostic) -> None:
        if self.expansion_notes:
            d = Diagnostic(d.code, d.severity, d.message, d.span, d.hint,
                           d.notes + tuple(reversed(self.expansion_notes)), d.label, d.fix)
        self.diags.append(d)

    def mark_read(self, sym: Symbol) -> None:
        self.reads.add(sym.name)
        self.read_symbols.add(id(sym))

    def _record(self, node, t: Optional[Type], static: bool = False) -> Optional[Type]:
        if t is not None:
            self.typing.types[id(node)] = t
            if static:
                self.typing.static.add(id(node))
        return t

    def is_static(self, node) -> bool:
        return id(node) in self.typing.static

    def did_you_mean_read(self, name: str) -> Optional[Suggestion]:
        """A "did you mean" hint over the visible names. The suggested name counts as read:
        "`lr` is never used" next to "undefined `lrr`; did you mean `lr`?" is noise."""
        guess = suggest(name, self.scopes.visible())
        if guess is None:
            return None
        self.reads.add(guess)
        return Suggestion(f"did you mean `{guess}`?", name, guess)

    def mark_names_read(self, node) -> None:
        """Count the names in an expression that is already reported as wrong as read, without
        checking it again (no "never used" warnings on top of the error)."""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Name) and self.scopes.lookup(n.id) is not None:
                self.mark_read(self.scopes.lookup(n.id))
            for field in ("func", "operand", "left", "right", "value"):
                child = getattr(n, field, None)
                if child is not None and not isinstance(child, (str, int, float)):
                    stack.append(child)
            for field in ("args", "operands", "items"):
                stack.extend(getattr(n, field, ()) or ())
            stack.extend(k.value for k in (getattr(n, "kwargs", ()) or ()))

    def visit_args(self, node: ast.Call) -> None:
        """Check the arguments of a call that is itself wrong, so that what they read counts as
        read and real errors inside them are reported too."""
        for a in node.args:
            self.check(a)
        for k in node.kwargs:
            self.check(k.value)

    def check(self, node) -> Optional[Type]:
        handler = self._dispatch.get(type(node))
        if handler is None:
            self.report(error("E0207", "this construct cannot be used as a value here", getattr(node, "span", None)))
            return None
        t = handler(node)
        if t is not None:
            self.leaf[id(node)] = self._leaf_of(node)
        return t

    # ------------------------------------------------------------ leaf dependence

    def leaf_of(self, node) -> Optional[tuple[str, str]]:
        """Why a checked expression differs from leaf to leaf: (name read, root cause), or None."""
        return self.leaf.get(id(node))

    def _leaf_of(self, node) -> Optional[tuple[str, str]]:
        if isinstance(node, ast.Name):
            sym = self.typing.symbols.get(id(node))
            return sym.leaf if sym is not None else None
        if isinstance(node, ast.Call):
            info = self.typing.calls.get(id(node))
            if isinstance(info, DefExpansion):
                return self.leaf.get(id(info.defn.result))
            if isinstance(info, CallInfo) and info.builtin.kind == Kind.MODEL:
                return None                     # a sum over all leaves: one value per step
            children = list(node.args)
        elif isinstance(node, ast.Unary):
            children = [node.operand]
        elif isinstance(node, ast.Binary):
            children = [node.left, node.right]
        elif isinstance(node, ast.Compare):
            children = list(node.operands)
        elif isinstance(node, (ast.Index, ast.Attr)):
            children = [node.value]
        else:
            return None
        for c in children:
            why = self.leaf.get(id(c))
            if why is not None:
                return why
        return None

    # ------------------------------------------------------------ leaves

    def _num(self, node: ast.Num):
        t = INT if node.is_int else REAL
        self.typing.types[id(node)] = t
        self.typing.static.add(id(node))
        return t

    def _bool(self, node: ast.Bool):
        return self._record(node, BOOL, static=True)

    def _str(self, node: ast.Str):
        self.report(error("E0207", "a string cannot be used as a value", node.span,
                          hint="strings appear only in `use \"file.iter\"` and `by cite \"...\"`"))
        return None

    def _name(self, node: ast.Name):
        sym = self.scopes.lookup(node.id)
        if sym is None:
            if self.undefined_hook is not None and self.undefined_hook(node):
                return None
            if node.id in self.defs or lookup(node.id) is not None:
                self.report(error("E0115", f"`{node.id}` is a function; call it with arguments",
                                  node.span, hint=f"write `{node.id}(...)`"))
                return None
            if node.id in ORACLE_KINDS:
                self.report(error("E0101", f"`{node.id}` is an oracle kind, not a value", node.span,
                                  hint=f"declare `oracle g = {node.id}(x)` and use `g`"))
                return None
            ended = self.scopes.ended.get(node.id)
            span = getattr(getattr(ended, "decl", None), "span", None)
            if span is not None and span.start < node.span.start and ended.kind in ("local", "var", "loopvar"):
                self.report(error("E0101", f"undefined name `{node.id}`: it was bound inside a block that has "
                                           "ended", node.span,
                                  notes=[Note(f"`{node.id}` is bound here; a name bound inside a `for`, `if`, "
                                              "`every`, `repeat` or `step` body exists only until the block ends",
                                              span)],
                                  hint=f"bind it before the block (`var {node.id} = ...`) and rebind it inside "
                                       f"(`{node.id} <- ...`), so the loop carries it out; to keep it from step "
                                       "to step, declare a `state`"))
                return None
            self.report(error("E0101", f"undefined name `{node.id}`", node.span,
                              hint=self.did_you_mean_read(node.id)))
            return None
        if sym.type is None:                 # its declaration has an error, reported already
            self.mark_read(sym)
            return None
        if isinstance(sym.type, FnType):
            self.mark_read(sym)
            self.report(error("E0115", f"`{node.id}` is a function oracle; call it with arguments", node.span,
                              hint=f"write `{node.id}(...)`: it takes {_count(len(sym.type.params), 'argument')} "
                                   f"({sym.type})"))
            return None
        if self.read_hook is not None:
            problem = self.read_hook(sym, node)
            if problem:
                return None
        self.reads.add(sym.name)                  # mark_read, inlined
        self.read_symbols.add(id(sym))
        typing = self.typing
        typing.symbols[id(node)] = sym
        typing.types[id(node)] = sym.type         # _record, inlined (sym.type is not None here)
        if sym.static:
            typing.static.add(id(node))
        return sym.type

    # ------------------------------------------------------------ operators

    def _apply(self, entry, node, operands: list, kw: Optional[dict] = None, what: Optional[str] = None) -> Optional[Type]:
        types = list(map(self.check, operands))     # every operand, so that each reports its errors
        for t in types:
            if t is None:
                return None
        sig = Sig(what or entry.name, list(types), kw or {}, tuple(self._known_value(o) for o in operands))
        try:
            result = entry.rule(sig)
        except BuiltinError as exc:
            notes = []
            if exc.code in ("E0201", "E0210", "E0204") and len(operands) > 1:
                for o, t in zip(operands, types):
                    notes.append(Note(f"`{_snippet(o)}` has type {t}", o.span))
            span = node.span
            if exc.keyword is not None and isinstance(node, ast.Call):
                span = next((k.span for k in node.kwargs if k.name.name == exc.keyword), node.span)
            elif exc.arg is not None and exc.code not in ("E0201", "E0210") and exc.arg < len(operands):
                span = operands[exc.arg].span
            fix = axis_fix(operands, types) if exc.code == "E0201" else None
            hint = exc.hint
            if hint is not None and operands:                # a rule's hint may quote the argument's text
                hint = hint.replace("{arg0}", _snippet(operands[0]))
            self.report(error(exc.code, exc.message, span, hint=hint, notes=notes, fix=fix))
            return None
        typing = self.typing
        typing.calls[id(node)] = CallInfo(entry, dict(kw) if kw else {})
        if result is not None:                    # _record, inlined
            typing.types[id(node)] = result
            static = typing.static
            for o in operands:
                if id(o) not in static:
                    break
            else:
                static.add(id(node))
        return result

    def _known_value(self, node):
        """What a rule may know of an argument before the run: a dimension's name (or an
        `int` hyper's, a size the caller fixes), or a literal integer (for `eye(n)`); None
        otherwise."""
        if isinstance(node, ast.Name):
            sym = self.scopes.lookup(node.id)
            known = sym is not None and (sym.kind == "dim" or (sym.kind == "hyper" and sym.type == INT))
            return sym.name if known else None
        return _static_int(node)

    def _unary(self, node: ast.Unary):
        return self._apply(UNARY_OPERATORS[node.op], node, [node.operand], what=node.op)

    def _binary(self, node: ast.Binary):
        return self._apply(OPERATORS[node.op], node, [node.left, node.right], what=node.op)

    def _compare(self, node: ast.Compare):
        types = [self.check(o) for o in node.operands]
        if any(t is None for t in types):
            return None
        result = None
        for i, op in enumerate(node.ops):
            entry = OPERATORS[op]
            try:
                t = entry.rule(Sig(op, [types[i], types[i + 1]], {}))
            except BuiltinError as exc:
                a, b = node.operands[i], node.operands[i + 1]
                notes = [Note(f"`{_snippet(a)}` has type {types[i]}", a.span),
                         Note(f"`{_snippet(b)}` has type {types[i + 1]}", b.span)]
                self.report(error(exc.code, exc.message, a.span.to(b.span), hint=exc.hint, notes=notes))
                return None
            result = t if result is None else Type("bool", _safe_broadcast(result.shape, t.shape))
        static = all(self.is_static(o) for o in node.operands)
        return self._record(node, result, static=static)

    # ------------------------------------------------------------ calls

    def _call(self, node: ast.Call):
        func = node.func
        if isinstance(func, ast.Attr) and isinstance(func.value, ast.Name) and func.value.id in self.aliases:
            module_defs = self.aliases[func.value.id]
            if func.attr.name not in module_defs:
                self.report(error("E0116", f"module `{func.value.id}` has no def `{func.attr.name}`", func.attr.span,
                                  hint=did_you_mean(func.attr.name, module_defs) or
                                  (f"it defines: {', '.join(sorted(module_defs))}" if module_defs
                                   else "it defines no `def`s")))
                self.visit_args(node)
                return None
            return self._expand(node, module_defs[func.attr.name])
        if not isinstance(func, ast.Name):
            self.report(error("E0115", "only named functions can be called", func.span,
                              hint="call a builtin or a `def` by its name"))
            self.mark_names_read(func)
            self.visit_args(node)
            return None
        name = func.id
        if self.scopes.lookup(name) is not None:
            sym = self.scopes.lookup(name)
            if sym.kind == "oracle" and isinstance(sym.decl, ast.FnOracle):
                return self._call_oracle(node, sym)
            self.mark_read(sym)
            self.report(error("E0115", f"`{name}` is {_a_kind(sym.kind)}, not a function",
                              func.span))
            self.visit_args(node)
            return None
        if name in self.defs:
            return self._expand(node, self.defs[name])
        if name == "prev":
            return self._prev(node)
        entry = lookup(name)
        if entry is not None and entry.kind == Kind.MODEL:
            if self.model_denied is not None:
                self.report(_model_denied(name, self.model_denied, node))
                self.visit_args(node)
                return None
            if self.model_hook is not None:
                self.model_hook(name, node)
        if entry is None and self.undefined_hook is not None and self.undefined_hook(func):
            self.visit_args(node)                   # a member declared further down, reported by the hook
            return None
        if entry is None:
            if name in ORACLE_KINDS:
                self.report(error("E0116", f"`{name}` is an oracle: the caller supplies it", func.span,
                                  hint=f"declare `oracle g = {name}(x)` in the method and use `g`"))
                self.visit_args(node)
                return None
            candidates = [n for n, e in REGISTRY.items() if e.callable] + list(self.defs)
            self.report(error("E0116", f"unknown function `{name}`", func.span,
                              hint=unknown_function_hint(name, candidates)))
            self.visit_args(node)
            return None
        if not entry.min_args <= len(node.args) <= len(entry.params):
            self.report(error("E0206", _arity_message(name, entry.shown_params(), len(node.args), entry.min_args),
                              node.span, hint=f"{entry.signature(keywords=False)}: {entry.summary}"))
            self.visit_args(node)
            return None
        kw = {}
        for k in node.kwargs:
            if not entry.keywords:
                self.report(error("E0207", f"`{name}` takes no keyword arguments", k.span,
                                  hint=f"{entry.signature(keywords=False)}: {entry.summary}"))
                self.visit_args(node)
                return None
            if k.name.name not in entry.keywords:
                allowed = ", ".join(f"`{x}=`" for x in entry.keywords)
                self.report(error("E0207", f"`{name}` has no keyword argument `{k.name.name}`", k.name.span,
                                  hint=did_you_mean(k.name.name, entry.keywords) or f"its keywords: {allowed}"))
                self.visit_args(node)
                return None
            value = _static_int(k.value)
            if value is None:
                self.report(error("E0205", f"`{k.name.name}=` must be a literal integer", k.value.span,
                                  hint=f"write e.g. `{k.name.name}=0`"))
                self.visit_args(node)
                return None
            kw[k.name.name] = value
        if name in ("randn_like", "rand_like"):
            if self.draw_hook is None:
                self.reads.add("seed")              # it is meant for this draw: no "never used" on top
                self.report(error("E0219", f"`{name}` draws random numbers, which only happens in a step",
                                  node.span, hint="draw in the step (or in a solver's lets and `until`), and keep "
                                                  "the value in a state if later steps need it"))
                self.visit_args(node)
                return None
            if self.draw_hook(node):
                self.visit_args(node)
                return None
            t = self._apply(entry, node, list(node.args), kw, what=name)
            if t is not None:
                self.typing.static.discard(id(node))       # a draw is never known before the run
            return t
        t = self._apply(entry, node, list(node.args), kw, what=name)
        if entry.results and t is not None and not self.tuple_ok:
            names = ", ".join(entry.results)
            self.report(error("E0227", f"`{name}` has {len(entry.results)} results, so it cannot be a value in an "
                                       "expression", node.span,
                              hint=f"bind them first: `let {names} = {_snippet(node)}`"))
            return None
        return t

    def _call_oracle(self, node: ast.Call, sym: Symbol):
        """A call of a solver's function oracle: positional arguments of the declared types."""
        name = sym.name
        if sym.type is None:                   # its declaration has an error, reported already
            self.mark_read(sym)
            self.visit_args(node)
            return None
        if self.read_hook is not None and self.read_hook(sym, node.func):
            self.visit_args(node)
            return None
        self.mark_read(sym)
        self.typing.symbols[id(node.func)] = sym
        fn: FnType = sym.type
        declared = [Note(f"`{name}` is declared `{fn}` here", sym.decl.span)]
        if node.kwargs:
            self.report(error("E0207", f"`{name}` takes positional arguments only", node.kwargs[0].span,
                              notes=declared))
            self.visit_args(node)
            return None
        types = [self.check(a) for a in node.args]
        if len(node.args) != len(fn.params):
            given = ""
            if node.args and all(t is not None for t in types):
                given = f": {', '.join(str(t) for t in types)}"
            wanted = f" ({', '.join(str(p) for p in fn.params)})" if fn.params else ""
            self.report(error("E0206", f"`{name}` takes {_count(len(fn.params), 'argument')}{wanted}, but "
                                       f"{len(node.args)} {'was' if len(node.args) == 1 else 'were'} given{given}",
                              node.span, notes=declared))
            return None
        if any(t is None for t in types):
            return None
        for i, (a, want, got) in enumerate(zip(node.args, fn.params, types)):
            elem_ok = got.elem == want.elem or (want.elem == "real" and got.elem == "int")
            if elem_ok and got.shape == want.shape:
                continue
            if not elem_ok:
                hint = "convert a bool with `where(cond, 1.0, 0.0)`" if got.elem == "bool" else \
                    f"the function takes {want.elem} values"
            elif want.shape == ():
                hint = "reduce the value to a scalar, e.g. with `sum` or `norm`"
            else:
                hint = (f"pass a value of shape {shape_str(want.shape)}: arguments of a function oracle are "
                        "not broadcast")
            self.report(error("E0218", f"argument {i + 1} of `{name}` must be {want}, but `{_snippet(a)}` is {got}",
                              a.span, notes=declared, hint=hint))
            return None
        self.typing.calls[id(node)] = CallInfo(REGISTRY["call"], {})
        return self._record(node, fn.result)

    def _prev(self, node: ast.Call):
        if len(node.args) != 1 or node.kwargs:
            self.report(error("E0206", "`prev` takes one argument, a state or the parameter", node.span))
            self.visit_args(node)
            return None
        arg = node.args[0]
        if not isinstance(arg, ast.Name):
            self.report(error("E0113", "`prev` takes the name of a state or the parameter", arg.span,
                              hint="write `prev(m)` for a state `m`"))
            self.visit_args(node)
            return None
        sym = self.scopes.lookup(arg.id)
        if sym is not None and sym.kind not in ("state", "param"):
            self.mark_read(sym)
            self.report(error("E0113", f"`prev({arg.id})`: `{arg.id}` is {_a_kind(sym.kind)}, "
                                       "which does not change during a step", arg.span,
                              hint="`prev` applies to states and the parameter"))
            return None
        if not self.prev_allowed and sym is not None:
            self.report(error("E0113", "`prev` is only meaningful inside a step", node.span))
            return None
        t = self.check(arg)
        if t is None:
            return None
        self.prev_used.add(arg.id)
        self.typing.calls[id(node)] = CallInfo(REGISTRY["prev"], {})
        return self._record(node, t)

    def _expand(self, node: ast.Call, defn: ast.Def):
        name = defn.name.name
        if name in self.expanding:
            self.report(error("E0117", f"`{name}` calls itself; defs cannot be recursive", node.span,
                              notes=[Note(f"`{name}` is defined here", defn.name.span)]))
            return None
        if node.kwargs:
            self.report(error("E0207", f"`{name}` takes positional arguments only", node.kwargs[0].span,
                              notes=[Note(f"`{name}` is defined here", defn.name.span)]))
            self.visit_args(node)
            return None
        if len(node.args) != len(defn.params):
            self.report(error("E0206", _arity_message(name, [p.name for p in defn.params], len(node.args)),
                              node.span, notes=[Note(f"`{name}` is defined here", defn.name.span)]))
            self.visit_args(node)
            return None
        arg_types = [self.check(a) for a in node.args]
        if any(t is None for t in arg_types):
            return None
        inner = Typing()
        expansion = DefExpansion(defn, node, tuple(p.name for p in defn.params), inner)
        outer_typing, outer_scopes = self.typing, self.scopes
        method_scopes = self._method_scopes if self.expanding else outer_scopes

        def method_member(n: ast.Name) -> bool:
            """A def reading a name of the method it is called from: E0101, with the reason,
            and the member counts as read (no "never used" warning on top of the error)."""
            sym = method_scopes.lookup(n.id)
            if sym is None:
                return False
            self.mark_read(sym)
            self.report(error("E0101", f"undefined name `{n.id}`", n.span,
                              hint=f"`{n.id}` is {_a_kind(sym.kind)} of the method, and a def sees only its "
                                   f"parameters and its own `let`s: pass `{n.id}` to `{name}` as an argument"))
            return True

        scope: dict[str, Symbol] = {}
        for p, a, t in zip(defn.params, node.args, arg_types):
            why = self.leaf.get(id(a))
            scope[p.name] = Symbol(p.name, "defarg", t, p, static=self.is_static(a),
                                   leaf=(p.name, why[1]) if why is not None else None)
        self.typing, self.scopes = inner, Scopes(scope)
        self.expanding.append(name)
        self.expansion_notes.append(Note(f"in `{name}`, called here", node.span))
        hook, self.read_hook = self.read_hook, None
        undefined_hook, self.undefined_hook = self.undefined_hook, method_member   # a def sees only its arguments
        saved_method_scopes, self._method_scopes = self._method_scopes, method_scopes
        try:
            ok = True
            for let in defn.lets:
                t = self.check(let.value)
                if t is None:
                    ok = False
                    break
                if self.scopes.lookup(let.name.name) is not None:
                    self.report(error("E0102", f"`{let.name.name}` is already defined in `{name}`", let.name.span))
                    ok = False
                    break
                why = self.leaf.get(id(let.value))
                self.scopes.bind(Symbol(let.name.name, "local", t, let, static=self.is_static(let.value),
                                        leaf=(let.name.name, why[1]) if why is not None else None))
            result = self.check(defn.result) if ok else None
            static = result is not None and self.is_static(defn.result)
        finally:
            self.read_hook = hook
            self.undefined_hook = undefined_hook
            self._method_scopes = saved_method_scopes
            self.expansion_notes.pop()
            self.expanding.pop()
            self.typing, self.scopes = outer_typing, outer_scopes
        if result is None:
            return None
        self.typing.calls[id(node)] = expansion
        return self._record(node, result, static=static)

    # ------------------------------------------------------------ indexing and attributes

    def _index(self, node: ast.Index):
        t = self.check(node.value)
        if t is None:
            return None
        for item in node.items:
            if not isinstance(item, (ast.FullSlice, ast.NewAxis)):
                self.report(error("E0211", "only `:` and `None` can appear in an index", item.span,
                                  hint="`x[:, None]` adds an axis; selecting elements is not supported"))
                return None
        if t.shape == LEAF:
            self.report(error("E0202", f"cannot index a value of any shape ({t})", node.span,
                              hint="declare the parameter with a rank, e.g. `param x: real[m, n]`"))
            return None
        dims = list(t.shape)
        n_slices = sum(isinstance(i, ast.FullSlice) for i in node.items)
        if n_slices > len(dims):
            self.report(error("E0202", f"index has {n_slices} `:` but `{_snippet(node.value)}` has rank {len(dims)} ({t})",
                              node.span, hint=f"use at most {len(dims)} `:`"))
            return None
        shape, k = [], 0
        for item in node.items:
            if isinstance(item, ast.NewAxis):
                shape.append(1)
            else:
                shape.append(dims[k])
                k += 1
        shape += dims[k:]
        self.typing.calls[id(node)] = CallInfo(REGISTRY["expand"], {})
        return self._record(node, Type(t.elem, tuple(shape)), static=self.is_static(node.value))

    def _attr(self, node: ast.Attr):
        if node.attr.name != "T":
            if isinstance(node.value, ast.Name) and self.scopes.lookup(node.value.id) is not None:
                self.mark_read(self.scopes.lookup(node.value.id))     # no "never used" on top of this
            self.report(error("E0215", f"unknown attribute `.{node.attr.name}`", node.attr.span,
                              hint="the only attribute is `.T` (matrix transpose)"))
            return None
        return self._apply(REGISTRY["transpose"], node, [node.value], what=".T")


_MODEL_INSTEAD = {"total": "`sum(...)`", "global_norm": "`norm(...)`"}


def _model_denied(name: str, where: str, node) -> Diagnostic:
    """E0222: a model-wide builtin where there is no parameter tree to range over."""
    if where == "solver":
        return error("E0222", f"`{name}` combines the leaves of an optimizer's parameter tree, and a solver has "
                              "one problem and no leaves", node.func.span,
                     hint=f"use {_MODEL_INSTEAD.get(name, '`sum(...)`')} for the whole of a tensor")
    return error("E0222", f"`{name}` is computed once per step over all leaves, so it can only be used in an "
                          f"optimizer's `step`, not in {where}", node.func.span,
                 hint="compute it in the step; a `shared state` keeps a model-wide value from step to step")


def _arity_message(name: str, params, given: int, least: Optional[int] = None) -> str:
    least = len(params) if least is None else least
    count = _count(len(params), 'argument') if least == len(params) else \
        f"{least} to {len(params)} arguments" if len(params) - least > 1 else f"{least} or {len(params)} arguments"
    return (f"`{name}` takes {count} ({', '.join(params)}), "
            f"but {given} {'was' if given == 1 else 'were'} given")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _snippet(node) -> str:
    text = node.span.text.replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."


def _static_int(node) -> Optional[int]:
    if isinstance(node, ast.Num) and node.is_int:
        return int(node.value)
    if isinstance(node, ast.Unary) and node.op == "-" and isinstance(node.operand, ast.Num) and node.operand.is_int:
        return -int(node.operand.value)
    return None


def _safe_broadcast(a, b):
    from ..types import ShapeError, broadcast
    try:
        return broadcast(a, b)
    except ShapeError:
        return a


__all__ = ["ExprChecker", "Scopes", "shape_str"]
