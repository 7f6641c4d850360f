"""Meterline: per-customer LLM cost attribution, budgets and billing."""

__version__ = "0.1.0"
