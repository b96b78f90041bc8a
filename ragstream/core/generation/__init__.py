"""Grounded generation: prompts with numbered sources, and the citations an answer makes."""
