"""Which sources an answer rests on, and the sources block that plain chat clients show under it.

Inline markers ``[n]`` are authoritative. Small models often answer from a source without marking it; then the
answer is attributed to the sources that contain most of its content words (post-hoc attribution), so a client
still learns where the answer came from. An abstention cites nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragstream.core.generation.prompt import NO_ANSWER, Source, cited

_WORD = re.compile(r"\w+", re.UNICODE)
_ABSTAIN = re.compile(r"\bI (do not|don't) know\b", re.IGNORECASE)
MIN_OVERLAP = 0.5  # share of the answer's content words a source must contain to be credited
MAX_ATTRIBUTED = 3
MIN_WORDS = 3  # a shorter answer says too little to attribute


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3 or w.isdigit()}


def abstains(answer: str) -> bool:
    return NO_ANSWER.lower() in answer.lower() or bool(_ABSTAIN.search(answer[:120]))


def attribute(answer: str, sources: Sequence[Source]) -> list[Source]:
    words = _content_words(answer)
    if len(words) < MIN_WORDS:
        return []
    overlap = [(len(words & _content_words(f"{s.passage.title} {s.passage.text}")) / len(words), s) for s in sources]
    credited = [s for share, s in sorted(overlap, key=lambda pair: (-pair[0], pair[1].number)) if share >= MIN_OVERLAP]
    return credited[:MAX_ATTRIBUTED]


def citations_for(answer: str, sources: Sequence[Source]) -> list[Source]:
    if abstains(answer):
        return []
    return cited(answer, sources) or attribute(answer, sources)


SOURCES_HEADING = "\n\nSources:\n"


def source_line(source: Source) -> str:
    """One cited source's line of the sources block."""
    p = source.passage
    return f"[{source.number}] {p.title or p.doc_id} ({p.doc_id}, version {p.version})"


def sources_block(citations: Sequence[Source]) -> str:
    """Markdown appended to the answer: renders in any chat UI, parses for ``[n]`` links."""
    return SOURCES_HEADING + "\n".join(source_line(s) for s in citations) if citations else ""
