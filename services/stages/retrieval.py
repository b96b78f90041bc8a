from ray import serve

from ragstream.core.settings import Settings
from ragstream.core.stages.retrieval import RetrievalStage


@serve.deployment(name="retrieval")
class Retrieval(RetrievalStage):
    async def __init__(self, settings: Settings) -> None:
        super().__init__(settings.retrieval, settings.milvus, settings.models.embedder.dimension)
        await self.warm_up()

    def __del__(self) -> None:
        self.close()
