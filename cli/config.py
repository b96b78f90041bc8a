"""What ``ragstream config`` shows: every setting's effective value and where it came from, credentials masked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from rich.table import Table

from ragstream.core.settings import Settings
from ragstream.core.settings_env import env_fields

MASK = "****"


def _shown(value: object, secret: bool) -> str:
    if secret:
        return MASK if value else "unset"
    if isinstance(value, str) and "@" in value:  # a password inside a URL (user:password@host) is masked too
        value = ",".join(_without_password(part) for part in value.split(","))
    return "unset" if value is None else json.dumps(value, default=str)


def _without_password(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"//{url}")
    if parts.password is None:
        return url
    netloc = f"{parts.username}:{MASK}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)).removeprefix("//")


def config_rows(settings: Settings, attached: Settings, environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(variable, value, source) per setting; ``attached`` is ``settings`` with the running local stack's endpoints
    filled in (the same object when none runs or none was needed)."""
    given = {name.upper() for name in environ}  # pydantic-settings reads variable names case-insensitively
    rows = []
    for field in env_fields(local=True):
        value = field.value(attached)
        if field.name in given:
            source = "environment"
        elif value != field.value(settings):
            source = "running local stack (runtime.json)"
        else:
            source = "default"
        rows.append((field.name, _shown(value, field.secret), source))
    return rows


def config_table(rows: list[tuple[str, str, str]]) -> Table:
    table = Table(title="effective settings")
    for column in ("variable", "value", "source"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row, style=None if row[2] == "default" else "bold")
    return table
