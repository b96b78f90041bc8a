"""Text analysis for BM25, done here rather than by Milvus so the embedded Milvus Lite (whose analyzer only
tokenizes and lowercases) and a cluster rank alike: ``english`` lowercases, splits on non-word characters and
reduces each word to its Snowball stem, so "tumors" matches "tumor". Index and queries must be analysed the same
way, so the chunk collection records which analysis built it (see ``IndexStore.ensure_collections``)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from nltk.stem.snowball import SnowballStemmer

Analysis = Literal["english", "standard"]
WORD = re.compile(r"\w+")
_STEMMER = SnowballStemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _STEMMER.stem(word)


def bm25_text(text: str, analysis: Analysis, max_bytes: int | None = None) -> str:
    """What Milvus' standard analyzer should tokenize: ``text`` itself, or its stems joined by spaces; at most
    ``max_bytes`` of UTF-8 (lowercasing can lengthen a few characters, e.g. "İ")."""
    if analysis == "english":
        text = " ".join(_stem(word) for word in WORD.findall(text.lower()))
    if max_bytes is not None and len(encoded := text.encode()) > max_bytes:
        text = encoded[:max_bytes].decode(errors="ignore")
    return text


PROPERTY = "ragstream.bm25_analysis"  # the chunk collection's property naming the analysis that built it


def recorded(properties: dict[str, str]) -> Analysis:
    """The analysis a collection was built with (collections made before the property existed: standard)."""
    return "english" if properties.get(PROPERTY) == "english" else "standard"
