"""Chat generation with llama.cpp: the engine behind Triton's decoupled ``generator`` model and the in-process one.

The prompt is rendered with the GGUF's own chat template, so any chat GGUF works; token counts are exact
(counted by llama.cpp's stopping-criteria hook, not by re-tokenising the text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from ragstream.core.models.files import generator_path
from ragstream.core.settings import GeneratorSettings
from ragstream.schemas.generation import GenerationChunk, GenerationRequest


class Generator(Protocol):
    def generate(self, request: GenerationRequest,
                 cancelled: Callable[[], bool] = ...) -> Iterator[GenerationChunk]: ...


class _TokenCounter:
    """llama.cpp calls stopping criteria once per sampled token with the ids so far."""

    def __init__(self) -> None:
        self.first = self.last = None

    def __call__(self, input_ids, logits) -> bool:
        self.first = len(input_ids) if self.first is None else self.first
        self.last = len(input_ids)
        return False

    @property
    def completion_tokens(self) -> int:
        return 0 if self.first is None else self.last - self.first + 1


class LlamaCppGenerator:
    def __init__(self, settings: GeneratorSettings) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._settings = settings
        self._llm = Llama(model_path=str(generator_path(settings)), n_ctx=settings.context_tokens,
                          n_threads=settings.threads, n_threads_batch=settings.threads, verbose=False)
        vocab = self._llm._model
        bos = self._llm.token_bos()
        self._format = Jinja2ChatFormatter(
            self._llm.metadata["tokenizer.chat_template"],
            eos_token=vocab.token_get_text(self._llm.token_eos()),
            bos_token=vocab.token_get_text(bos) if bos >= 0 else "",
        )

    def prompt_tokens(self, prompt: str) -> int:
        return len(self._llm.tokenize(prompt.encode(), add_bos=False, special=True))

    def generate(self, request: GenerationRequest,
                 cancelled: Callable[[], bool] = lambda: False) -> Iterator[GenerationChunk]:
        from llama_cpp import StoppingCriteriaList

        formatted = self._format(messages=[m.model_dump() for m in request.messages])
        prompt_tokens = self.prompt_tokens(formatted.prompt)
        room = self._settings.context_tokens - prompt_tokens
        if room < 1:
            raise ValueError(f"prompt is {prompt_tokens} tokens; the context window is {self._settings.context_tokens}")
        cap = min(request.max_tokens or self._settings.max_tokens, self._settings.max_tokens)
        template_stop = [formatted.stop] if isinstance(formatted.stop, str) else list(formatted.stop or [])
        counter = _TokenCounter()
        finish = "stop"
        stream = self._llm.create_completion(
            formatted.prompt, stream=True, max_tokens=min(cap, room), temperature=request.temperature,
            top_p=request.top_p, seed=request.seed, stop=template_stop + request.stop,
            stopping_criteria=StoppingCriteriaList([counter]),
        )
        for piece in stream:
            choice = piece["choices"][0]
            if choice["text"]:
                yield GenerationChunk(text=choice["text"])
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
            if cancelled():
                stream.close()
                finish = "cancelled"
                break
        yield GenerationChunk(finish_reason=finish, prompt_tokens=prompt_tokens,
                              completion_tokens=counter.completion_tokens)


def build_generator(settings: GeneratorSettings) -> Generator:
    return LlamaCppGenerator(settings)
