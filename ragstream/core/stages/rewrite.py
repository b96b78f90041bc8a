"""Conversation → search queries: the last user turn, made self-contained from the conversation when it is a
follow-up (multi-query: both are searched and fused), optionally a generator rewrite and a HyDE passage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragstream.core.models.client import ModelClient
from ragstream.core.settings import ModelSettings, RewriteSettings
from ragstream.core.stages.model_stage import ModelStage
from ragstream.core.stages.timing import Stopwatch, Timed
from ragstream.schemas.generation import ChatMessage, GenerationRequest

MAX_QUERY_CHARS = 2_000
STANDALONE = ("Rewrite the user's last question as one standalone search query, resolving pronouns and "
              "references from the conversation. Reply with the query only.")
HYDE = "Write two sentences that would answer the question, as a reference document would. Reply with them only."


@dataclass
class Rewritten:
    queries: list[str]  # searched, results fused
    standalone: str  # the question with its context: what the reranker and the compressor judge relevance by


def _transcript(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in messages if m.role != "system")[-MAX_QUERY_CHARS:]


class RewriteStage(ModelStage):
    def __init__(self, settings: RewriteSettings, models: ModelSettings, client: ModelClient | None = None) -> None:
        super().__init__(models, client)
        self.settings = settings

    def needed(self, *, messages: Sequence[ChatMessage], enabled: bool | None = None) -> bool:
        """A lone question with no HyDE is its own query: the pipeline then skips the call (and its hop)."""
        on = self.settings.enabled if enabled is None else enabled
        return on and (self.settings.hyde or any(m.role == "user" for m in messages[:-1]))

    @staticmethod
    def unchanged(messages: Sequence[ChatMessage]) -> Rewritten:
        return Rewritten([messages[-1].content], messages[-1].content)

    async def _ask(self, instruction: str, text: str, max_tokens: int) -> str:
        request = GenerationRequest(messages=[ChatMessage(role="system", content=instruction),
                                              ChatMessage(role="user", content=text)], max_tokens=max_tokens)
        pieces = [chunk.text async for chunk in self.models.generate(request)]
        return " ".join("".join(pieces).split())

    async def rewrite(self, *, messages: Sequence[ChatMessage], enabled: bool | None = None) -> Timed[Rewritten]:
        watch = Stopwatch()
        settings = self.settings
        question = messages[-1].content[-MAX_QUERY_CHARS:]
        queries, standalone = [question], question
        if settings.enabled if enabled is None else enabled:
            earlier = [m.content for m in messages[:-1] if m.role == "user"][-settings.history_turns:] \
                if settings.history_turns else []
            if earlier:
                standalone = " ".join([*earlier, question])[-MAX_QUERY_CHARS:]
                queries.append(standalone)
                if settings.generator:
                    standalone = await self._ask(STANDALONE, _transcript(messages), 48) or standalone
                    queries.append(standalone)
            if settings.hyde:
                queries.append(await self._ask(HYDE, standalone, 96))
        unique = list(dict.fromkeys(q for q in queries if q.strip()))
        return watch.timed(Rewritten(unique[:settings.max_queries], standalone))
