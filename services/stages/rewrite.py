from ray import serve

from ragstream.core.settings import Settings
from ragstream.core.stages.rewrite import RewriteStage


@serve.deployment(name="rewrite")
class Rewrite(RewriteStage):
    async def __init__(self, settings: Settings) -> None:
        super().__init__(settings.rewrite, settings.models)
        await self.warm_up()
