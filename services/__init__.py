"""The query path: one Ray Serve deployment per stage (``stages/``), composed by the HTTP ingress (``api/``)."""
