"""The ``ragstream`` command: composes the local stack, the services and the workers (the composition root)."""
