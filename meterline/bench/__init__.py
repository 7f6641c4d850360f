"""Benchmarks behind ``meterline bench``: each returns a dict of figures."""
