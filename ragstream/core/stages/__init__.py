"""The query stages, one plain class each: rewrite → embedding → retrieval → reranking → relevance gate →
compression → generation.

The contract every stage keeps (docs/architecture.md):

- ``__init__`` takes plain settings (and, for a model stage, optionally a ready ``ModelClient``) and does no I/O,
  so a stage is cheap to build anywhere, including in a test.
- ``await stage.warm_up()`` opens connections and loads what the first request would otherwise pay for; a Serve
  replica calls it once, in its own event loop, before it takes traffic.
- One public method with keyword-only arguments; every optional argument defaults to ``None``, meaning "as the
  settings say", resolved in one place inside the stage. A stage owns its policy (reranking its depth, weight and
  blend; the gate its thresholds; compression its budget), so the pipeline only passes what the request asked for.
- ``Passage`` is the only thing that flows between retrieval, reranking, the gate, compression and the prompt; each
  stage returns ``Timed`` (its result and its own compute time).

``services/stages`` wraps each class as a ``@serve.deployment``; the pipeline calls them by keyword.
"""
