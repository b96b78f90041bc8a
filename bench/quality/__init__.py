"""Retrieval and answer quality: datasets, metrics, and the runs that compare configurations and a peer."""
