"""Helpers the tests and the benchmarks share: writers and checkers of histories, stream helpers, model doubles
and an OTLP receiver. Not part of the installed package."""
