"""Gateway integrations: the LiteLLM callback (``producers.integrations.litellm``, imported on
its own because it needs ``litellm``) and provider SDK helpers that turn responses into events."""

from producers.integrations._event import CallContext
from producers.integrations.anthropic import anthropic_stream_usage_event, anthropic_usage_event
from producers.integrations.errors import GuardFactoryError, UsageMappingError
from producers.integrations.openai import openai_usage_event

__all__ = [
    "CallContext",
    "GuardFactoryError",
    "UsageMappingError",
    "anthropic_stream_usage_event",
    "anthropic_usage_event",
    "openai_usage_event",
]
