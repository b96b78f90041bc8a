"""BM25 text analysis: what the index and queries are reduced to before Milvus tokenizes them."""

from __future__ import annotations

from ragstream.core.index.analysis import PROPERTY, bm25_text, recorded


def test_english_analysis_stems_and_lowercases_and_standard_leaves_text_alone():
    assert bm25_text("Tumors RESETTING the Routers, naïvely!", "english") == "tumor reset the router naïv"
    assert bm25_text("Tumors, routers", "standard") == "Tumors, routers"
    assert bm25_text("?!", "english") == ""


def test_analysed_text_stays_within_the_field_limit_on_whole_characters():
    text = "İ" * 10  # lowercases to two code points, three bytes
    analysed = bm25_text(text, "english", max_bytes=7)
    assert len(analysed.encode()) <= 7 and analysed == bm25_text(text, "english")[:len(analysed)]


def test_a_collection_without_the_property_was_built_before_it_existed():
    assert recorded({}) == "standard"
    assert recorded({PROPERTY: "english"}) == "english"
