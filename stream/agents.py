"""Faust agents of the stream (filled in by the stream issue)."""
