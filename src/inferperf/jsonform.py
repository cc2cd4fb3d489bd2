"""One JSON form for the dataclasses whose JSON is their fields.

Options, records and small results used to write their ``to_dict`` by hand, a line per field; each new field
had to be added twice and a forgotten one silently left the file. ``JsonRecord.to_dict`` writes every field
in declaration order under its name, converting values the way the JSON writer would (nested records as
their JSON form, tuples as lists, paths as strings). A field's metadata may rename its key (``json_key``)
or keep it out of the file (``NOT_IN_JSON``). A class whose JSON adds computed keys or reorders its fields
keeps its own ``to_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import PurePath
from typing import Any

NOT_IN_JSON: Mapping[str, Any] = {"json": False}
"""Field metadata: not written (raw samples, a handle, a time used only in the process)."""


def json_key(key: str) -> Mapping[str, Any]:
    """Field metadata: write the field under ``key`` (the file's name for it predates the field's)."""
    return {"json_key": key}


def json_value(value: Any) -> Any:
    """``value`` as JSON data: a record as its ``to_dict``, a dataclass as its fields, tuples as lists."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_value(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return value


class JsonRecord:
    """Mixin for a dataclass: ``to_dict`` is its fields, in order, as JSON data."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        assert is_dataclass(self)
        return {
            f.metadata.get("json_key", f.name): json_value(getattr(self, f.name))
            for f in fields(self)
            if f.metadata.get("json", True)
        }


def known_keywords(function: str, given: Mapping[str, Any], typed: Any) -> None:
    """A TypeError, as Python raises for a named parameter, when ``given`` (a function's ``**kwargs:
    Unpack[typed]``) holds a keyword the TypedDict ``typed`` does not declare: shared keywords stay as strict
    as the parameters they replaced."""
    unknown = sorted(set(given) - set(typed.__annotations__))
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
