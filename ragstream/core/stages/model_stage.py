"""Base of the stages that call models."""

from __future__ import annotations

from ragstream.core.models.client import ModelClient
from ragstream.core.models.factory import build_client
from ragstream.core.settings import ModelSettings


class ModelStage:
    """Holds a ``ModelClient``: given one (a test's fake), or built by ``warm_up`` from the settings. grpc.aio
    channels belong to the event loop that opens them, so the client is built in the replica's loop, not in
    ``__init__``."""

    def __init__(self, models: ModelSettings, client: ModelClient | None = None) -> None:
        self._model_settings = models
        self._client = client

    async def warm_up(self) -> None:
        if self._client is None:
            self._client = build_client(self._model_settings)

    @property
    def models(self) -> ModelClient:
        if self._client is None:
            raise RuntimeError(f"{type(self).__name__}: call warm_up() first")
        return self._client
