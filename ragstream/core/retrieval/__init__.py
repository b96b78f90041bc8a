"""Retrieval building blocks shared by the query path's stages and the evaluation harness."""
