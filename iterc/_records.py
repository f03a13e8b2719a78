"""Hand-written record classes that still answer to `dataclasses`.

The AST, spans, types, diagnostics and the checker's model used to be dataclasses.
Creating a dataclass runs `exec` for each generated method, and the ~60 of them took most
of `iterc check`'s start-up time, so these classes are written out by hand: a subclass
lists its fields in `__slots__` (or in `_fields`, when it has a `__dict__` or slots that
are not fields) and writes its own `__init__`. It gets:

- a dataclass-style `__repr__` (`Name(id='x', span=<main.iter:1:5>)`) and `__match_args__`;
- `__dataclass_fields__` and `__dataclass_params__`, taken on first use from a dataclass
  with the same name and fields, so that `dataclasses.fields`, `replace`, `is_dataclass`
  and `asdict` keep working (`dataclasses` itself is imported only then);
- with `ValueRecord`, equality and hashing by the field values, as a frozen dataclass has
  (a plain `Record` compares by identity, as `@dataclass(eq=False)` did).

Frozen dataclasses also refused attribute assignment; these records do not check that (it
made creating one about three times slower), but nothing assigns to a node after it is built.
"""
from __future__ import annotations

from operator import attrgetter


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        fields = own["_fields"] if "_fields" in own else own.get("__slots__", cls._fields)
        if isinstance(fields, str):
            fields = (fields,)
        cls._fields = tuple(f for f in fields if f != "__weakref__")
        cls.__match_args__ = cls._fields
        if len(cls._fields) == 1:
            get = attrgetter(cls._fields[0])
            cls._values = staticmethod(lambda obj: (get(obj),))
        elif cls._fields:
            cls._values = staticmethod(attrgetter(*cls._fields))
        else:
            cls._values = staticmethod(lambda obj: ())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({inner})"


class ValueRecord(Record):
    """Equal when of the same class with equal fields; hashed by the fields."""

    __slots__ = ()

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._values(self) == other._values(other)
        return NotImplemented

    def __ne__(self, other):
        if other.__class__ is self.__class__:
            return self._values(self) != other._values(other)
        return NotImplemented

    def __hash__(self):
        return hash(self._values(self))


class _FromMirror:
    """`__dataclass_fields__` / `__dataclass_params__` of a Record class or instance: those of
    its mirror dataclass. A record class without fields has none, so it is no dataclass."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, obj, cls):
        if not cls._fields:
            raise AttributeError(self.name)
        return getattr(mirror(cls), self.name)


Record.__dataclass_fields__ = _FromMirror("__dataclass_fields__")
Record.__dataclass_params__ = _FromMirror("__dataclass_params__")

_MIRRORS: dict[type, type] = {}


def mirror(cls: type) -> type:
    """A frozen dataclass with `cls`'s name and fields."""
    made = _MIRRORS.get(cls)
    if made is None:
        import dataclasses

        made = dataclasses.make_dataclass(cls.__name__, [(f, "object") for f in cls._fields], frozen=True)
        made.__qualname__ = cls.__qualname__
        _MIRRORS[cls] = made
    return made


def as_dataclasses(value, keep=()):
    """A copy of `value` (a record, or tuples and lists of them) made of real dataclasses with
    the same names and fields, so that `pprint` lays it out as it does dataclasses
    (`iterc compile --emit ast`). Records of the classes in `keep` are left as they are."""
    if isinstance(value, Record) and value._fields and not isinstance(value, keep):
        return mirror(type(value))(*[as_dataclasses(getattr(value, f), keep) for f in value._fields])
    if isinstance(value, tuple):
        return tuple(as_dataclasses(v, keep) for v in value)
    if isinstance(value, list):
        return [as_dataclasses(v, keep) for v in value]
    return value
