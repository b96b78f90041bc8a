from ray import serve

from ragstream.core.settings import Settings
from ragstream.core.stages.embedding import EmbeddingStage


@serve.deployment(name="embedding")
class Embedding(EmbeddingStage):
    async def __init__(self, settings: Settings) -> None:
        super().__init__(settings.models)
        await self.warm_up()
