from ray import serve

from ragstream.core.settings import Settings
from ragstream.core.stages.generation import GenerationStage


@serve.deployment(name="generation")
class Generation(GenerationStage):
    async def __init__(self, settings: Settings) -> None:
        super().__init__(settings.models)
        await self.warm_up()
