"""Hand validation of the probe's inputs (config, catalogue, check-in reply), pydantic's wording.

The probe does not import pydantic: the library and the validators it builds were a third of
a Raspberry Pi probe's 40 MB memory budget. These few checkers read plain JSON/TOML values
into frozen dataclasses with the same rules as the collector's pydantic models
(``cutwatch.catalogue``) and word errors the same way (``targets.0.port: Input should be less
than or equal to 65535``), so a volunteer reads one line whichever side refused. Every error of
a document is collected, as pydantic does, so the line can say how many more there are.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from cutwatch.validation import describe_errors

Loc = tuple[str | int, ...]
T = TypeVar("T")


class Invalid(ValueError):
    """A document that does not validate: every error, as ``{"loc": ..., "msg": ...}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(describe_errors(errors))


class Errors:
    """The errors found so far in one document."""

    def __init__(self, *, json_mode: bool = False) -> None:
        self.items: list[dict[str, Any]] = []
        # A document parsed from JSON (pydantic's validate_json) words a few errors otherwise.
        self.json_mode = json_mode

    def add(self, loc: Loc, msg: str) -> None:
        self.items.append({"loc": loc, "msg": msg})

    def raise_any(self) -> None:
        if self.items:
            raise Invalid(self.items)


class _Missing:
    pass


# What a checker returns when the value is refused (the error is already recorded).
BAD: Final = _Missing()
Checker = Callable[[Any, Loc, Errors], Any]

_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _bounds(value: float, loc: Loc, errors: Errors, *, gt: float | None, ge: float | None,
            le: float | None) -> bool:
    # Written as "not (ok)" so that NaN, which compares false, is refused like pydantic does,
    # and in pydantic's order (the upper bound first), which only NaN can tell apart.
    if le is not None and not value <= le:
        errors.add(loc, f"Input should be less than or equal to {le}")
    elif ge is not None and not value >= ge:
        errors.add(loc, f"Input should be greater than or equal to {ge}")
    elif gt is not None and not value > gt:
        errors.add(loc, f"Input should be greater than {gt}")
    else:
        return True
    return False


def string(*, min_length: int | None = None, max_length: int | None = None,
           pattern: str | None = None) -> Checker:
    compiled = re.compile(pattern) if pattern is not None else None

    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        if not isinstance(value, str):
            errors.add(loc, "Input should be a valid string")
        elif min_length is not None and len(value) < min_length:
            unit = "character" if min_length == 1 else "characters"
            errors.add(loc, f"String should have at least {min_length} {unit}")
        elif max_length is not None and len(value) > max_length:
            unit = "character" if max_length == 1 else "characters"
            errors.add(loc, f"String should have at most {max_length} {unit}")
        elif compiled is not None and compiled.search(value) is None:
            errors.add(loc, f"String should match pattern '{pattern}'")
        else:
            return value
        return BAD
    return check


def integer(*, gt: int | None = None, ge: int | None = None, le: int | None = None) -> Checker:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        number: int
        if isinstance(value, int):  # bool too: pydantic's lax mode reads True as 1
            number = int(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                errors.add(loc, "Input should be a finite number")
                return BAD
            if not value.is_integer():
                errors.add(loc, "Input should be a valid integer, got a number with a "
                                "fractional part")
                return BAD
            number = int(value)
        elif isinstance(value, str):
            try:
                if not value.isascii():  # int() reads other scripts' digits; pydantic does not
                    raise ValueError(value)
                number = int(value.strip())
            except ValueError:
                errors.add(loc, "Input should be a valid integer, unable to parse string as "
                                "an integer")
                return BAD
        else:
            errors.add(loc, "Input should be a valid integer")
            return BAD
        return number if _bounds(number, loc, errors, gt=gt, ge=ge, le=le) else BAD
    return check


def number(*, gt: float | None = None, ge: float | None = None,
           le: float | None = None) -> Checker:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        result: float
        if isinstance(value, int | float):
            result = float(value)
        elif isinstance(value, str):
            try:
                if not value.isascii():
                    raise ValueError(value)
                result = float(value.strip())
            except ValueError:
                errors.add(loc, "Input should be a valid number, unable to parse string as a "
                                "number")
                return BAD
        else:
            errors.add(loc, "Input should be a valid number")
            return BAD
        return result if _bounds(result, loc, errors, gt=gt, ge=ge, le=le) else BAD
    return check


def finite(checker: Checker) -> Checker:
    """A number that must not be NaN or infinite (the wire models' ``allow_inf_nan=False``)."""
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        result = checker(value, loc, errors)
        if isinstance(result, float) and not math.isfinite(result):
            errors.add(loc, "Input should be a finite number")
            return BAD
        return result
    return check


def boolean(value: Any, loc: Loc, errors: Errors) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    if isinstance(value, int | str):
        errors.add(loc, "Input should be a valid boolean, unable to interpret input")
    else:
        errors.add(loc, "Input should be a valid boolean")
    return BAD


def literal(*allowed: str) -> Checker:
    quoted = [f"'{a}'" for a in allowed]
    wording = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"

    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        if isinstance(value, str) and value in allowed:
            return value
        errors.add(loc, f"Input should be {wording}")
        return BAD
    return check


def optional(checker: Checker) -> Checker:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        return None if value is None else checker(value, loc, errors)
    return check


def tuple_of(item: Checker, *, min_length: int | None = None) -> Checker:
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        if not isinstance(value, list | tuple):
            errors.add(loc, "Input should be a valid tuple")
            return BAD
        before = len(errors.items)
        items = tuple(item(v, (*loc, i), errors) for i, v in enumerate(value))
        valid = sum(1 for i in items if i is not BAD)
        # Like pydantic, the length is of the items that validated ("after validation").
        if min_length is not None and valid < min_length:
            unit = "item" if min_length == 1 else "items"
            errors.add(loc, f"Tuple should have at least {min_length} {unit} after "
                            f"validation, not {valid}")
        return BAD if len(errors.items) > before else items
    return check


def aware_datetime(value: Any, loc: Loc, errors: Errors) -> Any:
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        # Unix time, as pydantic reads it: seconds, or milliseconds when that large.
        seconds = value / 1000 if abs(value) > 20_000_000_000 else value
        try:
            parsed = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            parsed = None
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        errors.add(loc, "Input should be a valid datetime")
        return BAD
    if parsed.tzinfo is None:
        errors.add(loc, "Input should have timezone info")
        return BAD
    return parsed


def with_rule(checker: Checker, rule: Callable[[Any], Any]) -> Checker:
    """``checker``, then ``rule`` on the value it gives; a ``ValueError`` of the rule is a
    ``Value error, ...`` (pydantic's wording for a field validator's refusal)."""
    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        result = checker(value, loc, errors)
        if result is BAD:
            return BAD
        try:
            return rule(result)
        except ValueError as exc:
            errors.add(loc, f"Value error, {exc}")
            return BAD
    return check


def record(cls: type[T], fields: Mapping[str, Checker], *, extra: str = "forbid") -> Checker:
    """A mapping read into the frozen dataclass ``cls``: one checker per field, defaults from
    the dataclass, unknown keys refused (``extra="forbid"``) or dropped (``"ignore"``)."""
    defaults = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    order: Sequence[str] = [name for name in defaults if name in fields]

    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        if dataclasses.is_dataclass(value) and isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            errors.add(loc, "Input should be an object" if errors.json_mode else
                       f"Input should be a valid dictionary or instance of {cls.__name__}")
            return BAD
        before = len(errors.items)
        kwargs: dict[str, Any] = {}
        for name in order:
            if name in value:
                kwargs[name] = fields[name](value[name], (*loc, name), errors)
            elif (defaults[name].default is dataclasses.MISSING
                  and defaults[name].default_factory is dataclasses.MISSING):
                errors.add((*loc, name), "Field required")
        if extra == "forbid":
            for key in value:
                if key not in fields:
                    errors.add((*loc, key), "Extra inputs are not permitted")
        if len(errors.items) > before:
            return BAD
        return cls(**kwargs)
    return check


def tagged(tag: str, members: Mapping[str, Checker]) -> Checker:
    """A discriminated union: the value of key ``tag`` picks the member's checker."""
    expected = ", ".join(f"'{m}'" for m in members)

    def check(value: Any, loc: Loc, errors: Errors) -> Any:
        if not isinstance(value, Mapping):
            errors.add(loc, "Input should be a valid dictionary or object to extract fields "
                            "from")
            return BAD
        if tag not in value:
            errors.add(loc, f"Unable to extract tag using discriminator '{tag}'")
            return BAD
        member = members.get(value[tag]) if isinstance(value[tag], str) else None
        if member is None:
            errors.add(loc, f"Input tag '{value[tag]}' found using '{tag}' does not match any "
                            f"of the expected tags: {expected}")
            return BAD
        return member(value, loc, errors)
    return check


def validate(checker: Checker, value: Any, *, json_mode: bool = False) -> Any:
    """``value`` read by ``checker``, or ``Invalid`` with every error."""
    errors = Errors(json_mode=json_mode)
    result = checker(value, (), errors)
    errors.raise_any()
    return result
