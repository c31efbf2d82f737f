"""The engine's whole state as bytes and back: what a leader saves so the next one resumes.

Explicit, not pickle: the encoding is JSON of plain values (numbers, strings, lists) and the
decoder builds only builtin containers and instances of the detector's own data classes
(classes of the ``detectors`` package, see ``allowed``), filling their fields with ``setattr``; no
constructor, ``__setstate__`` or any other code named by the data runs, so a snapshot read from
the database cannot execute anything. Shared and cyclic references (an open event sits in
``Lifecycle.open`` and in ``member_events``; the lifecycle points back at its engine) are kept
as references, so the restored engine is the same graph.

Versioned: ``FORMAT`` changes with the encoding; every class's field names travel with the
snapshot, so a snapshot taken by code whose classes had other fields, or with other
``Params``, is refused (``SnapshotError``) and the caller rebuilds instead.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import zlib
from collections import deque
from typing import Any, Final
from uuid import UUID

from cutwatch.detectors.engine import Engine
from cutwatch.detectors.params import Params

FORMAT: Final = 1
MAGIC: Final = b"CWS1"
# The detector's package as imported (``cutwatch.detectors``), read rather than spelt out.
PACKAGE: Final = __name__.rpartition(".")[0]


def allowed(module: str) -> bool:
    """Whether a class of ``module`` may appear in a snapshot: the detector's own modules
    (pure data and logic, no I/O), never this one. Nothing else is ever instantiated."""
    return module.startswith(PACKAGE + ".") and module != __name__


class SnapshotError(ValueError):
    """A snapshot that cannot be used (corrupt, another format, other classes or params)."""


def _fields(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    if dataclasses.is_dataclass(cls):
        names.extend(f.name for f in dataclasses.fields(cls))
    return tuple(sorted({n for n in names if not n.startswith("__")}))


_PLAIN: Final = frozenset({int, float, str, bool, type(None)})


class _Encoder:
    def __init__(self) -> None:
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps encoded objects alive, so their ids stay unique
        self.classes: dict[type, int] = {}
        self.layouts: list[list[Any]] = []
        self.slotted: dict[type, tuple[int, tuple[str, ...]]] = {}

    def ref(self, obj: Any) -> int | None:
        key = id(obj)
        found = self.memo.get(key)
        if found is not None:
            return found
        self.memo[key] = len(self.memo)
        self.keep.append(obj)
        return None

    def cls(self, cls: type, names: tuple[str, ...]) -> int:
        found = self.classes.get(cls)
        if found is None:
            if not allowed(cls.__module__):
                raise SnapshotError(f"cannot snapshot a {cls.__module__}.{cls.__qualname__}")
            found = self.classes[cls] = len(self.layouts)
            self.layouts.append([cls.__module__, cls.__qualname__, list(names)])
        return found

    def enc(self, v: Any) -> Any:
        t = type(v)
        if v is _UNSET:
            return _UNSET_TAG
        if v is None or t is bool or t is int or t is float or t is str:
            return v
        if t is tuple:
            return ["t", *map(self.enc, v)]
        if t is frozenset:
            return ["f", *map(self.enc, v)]
        if t is UUID:
            return ["u", str(v)]
        if t is bytes:
            return ["y", v.hex()]
        if isinstance(v, tuple):  # a NamedTuple (EntityKey): a value, like a tuple
            if not hasattr(v, "_fields"):
                raise SnapshotError(f"cannot snapshot a {t.__qualname__}")
            return ["n", self.cls(t, tuple(v._fields)), *map(self.enc, v)]
        seen = self.ref(v)
        if seen is not None:
            return ["r", seen]
        if t is list:
            return ["l", *map(self.enc, v)]
        if t is dict:
            out: list[Any] = ["d"]
            for k, x in v.items():
                out.append(self.enc(k))
                out.append(self.enc(x))
            return out
        if t is set:
            return ["s", *map(self.enc, v)]
        if t is deque:
            return ["q", v.maxlen, *map(self.enc, v)]
        if t is bytearray:
            return ["b", v.hex()]
        slotted = self.slotted.get(t)
        if slotted is None:
            if hasattr(v, "__dict__"):  # a plain object: every attribute its __init__ set
                names = tuple(sorted(vars(v)))
                return ["o", self.cls(t, names), *self.values(v, names)]
            names = _fields(t)
            if not names:
                raise SnapshotError(f"cannot snapshot a {t.__module__}.{t.__qualname__}")
            slotted = self.slotted[t] = (self.cls(t, names), names)
        cid, names = slotted
        return ["o", cid, *self.values(v, names)]

    def values(self, obj: Any, names: tuple[str, ...]) -> list[Any]:
        # most fields are numbers: kept as they are without a call (a third of the time)
        enc = self.enc
        return [x if type(x) in _PLAIN else enc(x)
                for x in [getattr(obj, n, _UNSET) for n in names]]


class _Unset:
    """A slot never assigned (it stays unassigned on restore)."""


_UNSET: Final = _Unset()
_UNSET_TAG: Final = ["x"]


class _Decoder:
    def __init__(self, layouts: list[Any], plain: dict[type, list[str]]) -> None:
        self.memo: list[Any] = []
        self.classes: list[tuple[type, list[str], bool]] = []
        for entry in layouts:
            module, qualname, names = entry
            if not isinstance(module, str) or not allowed(module):
                raise SnapshotError(f"class from a module not allowed: {module}")
            cls: Any = importlib.import_module(module)
            for part in str(qualname).split("."):
                cls = getattr(cls, part, None)
            if not isinstance(cls, type):
                raise SnapshotError(f"no class {module}.{qualname} any more")
            named = hasattr(cls, "_fields") and issubclass(cls, tuple)
            if named and list(getattr(cls, "_fields", ())) != names:
                raise SnapshotError(f"{qualname} has other fields now")
            if named:
                pass
            elif cls in plain:  # a plain class: its fields are those its __init__ sets
                if plain[cls] != names:
                    raise SnapshotError(f"{qualname} has other fields now")
            elif (dataclasses.is_dataclass(cls) or "__dict__" not in dir(cls)) \
                    and list(_fields(cls)) != names:
                raise SnapshotError(f"{qualname} has other fields now")
            self.classes.append((cls, names, named))

    def dec(self, v: Any) -> Any:
        if type(v) is not list:
            return v
        tag = v[0]
        if tag == "r":
            return self.memo[v[1]]
        if tag == "t":
            return tuple(map(self.dec, v[1:]))
        if tag == "f":
            return frozenset(map(self.dec, v[1:]))
        if tag == "u":
            return UUID(v[1])
        if tag == "y":
            return bytes.fromhex(v[1])
        if tag == "x":
            return _UNSET
        if tag == "n":
            cls, _, _ = self.classes[v[1]]
            return cls(*map(self.dec, v[2:]))
        if tag == "l":
            out_l: list[Any] = []
            self.memo.append(out_l)
            out_l.extend(map(self.dec, v[1:]))
            return out_l
        if tag == "d":
            out_d: dict[Any, Any] = {}
            self.memo.append(out_d)
            it = iter(v[1:])
            for k in it:
                out_d[self.dec(k)] = self.dec(next(it))
            return out_d
        if tag == "s":
            out_s: set[Any] = set()
            self.memo.append(out_s)
            out_s.update(map(self.dec, v[1:]))
            return out_s
        if tag == "q":
            out_q: deque[Any] = deque(maxlen=v[1])
            self.memo.append(out_q)
            out_q.extend(map(self.dec, v[2:]))
            return out_q
        if tag == "b":
            out_b = bytearray.fromhex(v[1])
            self.memo.append(out_b)
            return out_b
        if tag == "o":
            cls, names, _ = self.classes[v[1]]
            if len(v) - 2 != len(names):
                raise SnapshotError(f"{cls.__qualname__}: {len(v) - 2} values for"
                                    f" {len(names)} fields")
            obj: Any = object.__new__(cls)  # no __init__: the fields come from the snapshot
            self.memo.append(obj)
            for name, raw in zip(names, v[2:], strict=True):
                value = self.dec(raw)
                if value is not _UNSET:
                    object.__setattr__(obj, name, value)  # frozen dataclasses too
            return obj
        raise SnapshotError(f"unknown tag {tag!r}")


def _plain_layouts(params: Params) -> dict[type, list[str]]:
    """The fields a new engine's plain (``__dict__``) objects have, one level down: what a
    snapshot of the same code must show for them."""
    fresh = Engine(params)
    out: dict[type, list[str]] = {Engine: sorted(vars(fresh))}
    for value in vars(fresh).values():
        if allowed(type(value).__module__) and hasattr(value, "__dict__") \
                and not dataclasses.is_dataclass(value):
            out[type(value)] = sorted(vars(value))
    return out


def _params_json(params: Params) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(params), default=str))


def dump(engine: Engine) -> bytes:
    """The engine's state as compressed bytes (raises ``SnapshotError`` when some part of it
    is not plain data, e.g. a function: the caller logs it and goes on without)."""
    encoder = _Encoder()
    body = encoder.enc(engine)
    doc = {"format": FORMAT, "params": _params_json(engine.params),
           "classes": encoder.layouts, "engine": body}
    raw = json.dumps(doc, separators=(",", ":"), default=_refuse).encode()
    return MAGIC + zlib.compress(raw, 1)


def _refuse(value: Any) -> Any:
    raise SnapshotError(f"cannot snapshot a {type(value).__qualname__}")


def load(data: bytes, params: Params) -> Engine:
    """The engine saved by ``dump``; ``SnapshotError`` when the bytes are not a usable
    snapshot for this code and these ``params``."""
    if not data.startswith(MAGIC):
        raise SnapshotError("not a detector snapshot (bad magic)")
    try:
        doc = json.loads(zlib.decompress(data[len(MAGIC):]))
    except (zlib.error, ValueError, RecursionError) as exc:
        raise SnapshotError(f"corrupt snapshot: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise SnapshotError(f"snapshot format {found!r} is not {FORMAT}")
    if doc.get("params") != _params_json(params):
        raise SnapshotError("snapshot taken with other detector params")
    try:
        engine = _Decoder(doc["classes"], _plain_layouts(params)).dec(doc["engine"])
    except SnapshotError:
        raise
    except Exception as exc:  # any malformed structure is a corrupt snapshot, never a crash
        raise SnapshotError(f"corrupt snapshot: {type(exc).__name__}: {exc}") from exc
    if type(engine) is not Engine:
        raise SnapshotError("snapshot does not hold an engine")
    return engine
