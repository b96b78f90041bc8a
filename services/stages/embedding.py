from ray import serve

from ragstream.settings import Settings
from ragstream.stages.embedding import EmbeddingStage


@serve.deployment(name="embedding")
class Embedding(EmbeddingStage):
    async def __init__(self, settings: Settings) -> None:
        super().__init__(settings.models)
        await self.warm_up()
