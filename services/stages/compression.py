from ray import serve

from ragstream.core.settings import Settings
from ragstream.core.stages.compression import CompressionStage


@serve.deployment(name="compression")
class Compression(CompressionStage):
    async def __init__(self, settings: Settings) -> None:
        super().__init__(settings.context)
        await self.warm_up()
