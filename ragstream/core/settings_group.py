"""The base of every settings group: an unknown key is refused with the nearest valid name."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def hint(name: str, known: list[str]) -> str:
    nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {nearest[0]}?" if nearest else ""


class Group(BaseModel):
    """A settings group. An unknown key is refused with the nearest valid one, never silently ignored: a typo in a
    setting would otherwise leave the default in force without a word."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fields = list(cls.model_fields)
            unknown = [f"unknown setting {key!r}{hint(str(key).lower(), fields)}"
                       for key in data if key not in cls.model_fields]
            if unknown:
                raise ValueError("; ".join(unknown))
        return data
