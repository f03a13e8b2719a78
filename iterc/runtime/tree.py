"""Parameter trees: nested dicts, lists and tuples of arrays, flattened to leaves and back."""
from __future__ import annotations

from typing import Any, Callable


def flatten(tree: Any, is_leaf: Callable[[Any], bool] = lambda x: False) -> tuple[list, Any]:
    """Leaves in a stable order (dicts by insertion order) and a structure to rebuild from."""
    leaves: list = []

    def walk(node):
        if is_leaf(node):
            leaves.append(node)
            return None
        if isinstance(node, dict):
            return ("dict", tuple(node.keys()), tuple(walk(v) for v in node.values()))
        if isinstance(node, (list, tuple)) and not hasattr(node, "_fields"):
            return (type(node).__name__, len(node), tuple(walk(v) for v in node))
        leaves.append(node)
        return None

    return leaves, walk(tree)


def unflatten(structure: Any, leaves: list) -> Any:
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        kind = s[0]
        if kind == "dict":
            return {k: build(c) for k, c in zip(s[1], s[2])}
        items = [build(c) for c in s[2]]
        return items if kind == "list" else tuple(items)

    return build(structure)


def paths(structure: Any, prefix: str = "params") -> list[str]:
    """A readable path for each leaf, for error messages: params['layer1']['w']."""
    out: list[str] = []

    def walk(s, p):
        if s is None:
            out.append(p)
            return
        if s[0] == "dict":
            for k, c in zip(s[1], s[2]):
                walk(c, f"{p}[{k!r}]")
        else:
            for i, c in enumerate(s[2]):
                walk(c, f"{p}[{i}]")

    walk(structure, prefix)
    return out
