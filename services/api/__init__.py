"""The HTTP face: an OpenAI-compatible chat API plus retrieval and document endpoints, as the Serve ingress."""
