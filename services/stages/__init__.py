"""The query stages as Serve deployments: each a few lines that take the settings, build the plain stage of
``ragstream.core.stages`` and warm it up in the replica before it takes traffic. The methods are the stage's own.

rewrite → embedding → retrieval → reranking → compression → generation (the relevance gate runs in the ingress)
"""
