from ray import serve

from ragstream.core.settings import Settings
from ragstream.core.stages.reranking import RerankingStage


@serve.deployment(name="reranking")
class Reranking(RerankingStage):
    async def __init__(self, settings: Settings) -> None:
        super().__init__(settings.retrieval, settings.models)
        await self.warm_up()
