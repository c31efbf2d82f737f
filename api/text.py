"""Text that PostgreSQL can store: one annotated ``str`` for every free-text API field.

PostgreSQL's ``text`` holds no NUL character and only valid UTF-8; a name, city, label or
description carrying either would otherwise fail in the database with a 500.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def storable(value: str) -> str:
    """``value`` unchanged, or ValueError naming why PostgreSQL cannot hold it."""
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode (unpaired surrogate)") from None
    return value


PlainText = Annotated[str, AfterValidator(storable)]
