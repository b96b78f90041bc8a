"""The settings as ``RAGSTREAM_*`` environment variables: what a Serve application's ``runtime_env``, the Helm
chart's ConfigMap and its Secret carry, so a process elsewhere reads the same :class:`Settings`.

Secrets (API keys, passwords, tokens) never travel in plain config: they are listed apart and come from a Secret.
Values are written the way Helm prints JSON numbers (``120`` for ``120.0``), so the chart and this module agree
to the byte; pydantic reads both forms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from ragstream.core.settings import DELIMITER, PREFIX, Settings

# Settings of the embedded single-machine stack only: they mean nothing where endpoints are external.
LOCAL_ONLY = frozenset({"local"})


@dataclass(frozen=True)
class EnvField:
    path: tuple[str, ...]
    info: FieldInfo

    @property
    def name(self) -> str:
        return PREFIX + DELIMITER.join(part.upper() for part in self.path)

    def value(self, settings: BaseModel) -> Any:
        """This field's value in a settings object."""
        for part in self.path:
            settings = getattr(settings, part)
        return settings

    @property
    def secret(self) -> bool:
        """SecretStr fields, and fields kept out of repr (the API keys), are credentials."""
        return SecretStr in (self.info.annotation, *get_args(self.info.annotation)) or self.info.repr is False


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def env_fields(model: type[BaseModel] = Settings, path: tuple[str, ...] = (), local: bool = False
               ) -> Iterator[EnvField]:
    """Every leaf setting a deployment can set, depth first, local-stack settings left out unless ``local``."""
    for name, info in model.model_fields.items():
        if not path and name in LOCAL_ONLY and not local:
            continue
        nested = _model(info.annotation)
        if nested:
            yield from env_fields(nested, (*path, name), local)
        else:
            yield EnvField((*path, name), info)


def env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value) if isinstance(value, bool | int | float | dict | list) else str(value)


def settings_env(settings: Settings, secrets: bool = False) -> dict[str, str]:
    """The non-secret settings (or only the secret ones) that are set, as environment variables."""
    env = {}
    for field in env_fields():
        value = field.value(settings)
        if field.secret == secrets and value is not None and value != {}:
            env[field.name] = env_value(value)
    return env
