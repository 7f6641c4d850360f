"""Seeded, realistic gateway traffic for the demo and the benchmarks. Pure: no I/O, no clock.

A long tail of small customers and a few heavy ones (Zipf-like weights), several features with
their own token profiles, several models of two providers, streamed and failed calls, prompt
caching and reasoning tokens, and gateway retries that send the very same event (same
``event_id``) again. Under one seed and start time the sequence is always the same, ids included:
every random draw, the ids' random bits too, comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from producers.ids import uuid7
from schemas._types import Identifier
from schemas.usage import Status, TokenCounts, UsageEvent

__all__ = [
    "FEATURES",
    "MODELS",
    "Feature",
    "Model",
    "TrafficProfile",
    "TrafficSummary",
    "customer_ids",
    "simulate",
]


@dataclass(frozen=True)
class Model:
    provider: str
    name: str
    reasoning: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class Feature:
    name: str
    weight: float
    prompt_tokens: int
    """Median prompt size; actual sizes vary log-normally around it."""
    output_tokens: int
    cache_share: float
    """Share of calls whose prompt prefix is served from (or written to) the cache."""
    models: tuple[str, ...]


_KEY_ID = TypeAdapter(Identifier)

MODELS: tuple[Model, ...] = (
    Model("openai", "gpt-4o-mini", weight=5),
    Model("openai", "gpt-4o", weight=2),
    Model("openai", "o4-mini", reasoning=True, weight=1.5),
    Model("anthropic", "claude-sonnet-4-20250514", weight=2),
    Model("anthropic", "claude-3-5-haiku-20241022", weight=2),
)

FEATURES: tuple[Feature, ...] = (
    Feature("assistant", 5, 1_800, 350, 0.6, ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-20250514")),
    Feature("search", 3, 900, 120, 0.2, ("gpt-4o-mini", "claude-3-5-haiku-20241022")),
    Feature("summarize", 2, 6_000, 400, 0.3, ("gpt-4o-mini", "claude-3-5-haiku-20241022")),
    Feature("classify", 3, 300, 8, 0.0, ("gpt-4o-mini",)),
    Feature("agent", 1, 12_000, 1_500, 0.8, ("o4-mini", "gpt-4o", "claude-sonnet-4-20250514")),
)


@dataclass(frozen=True)
class TrafficProfile:
    """Who calls and how calls go. ``keys`` empty: each customer has its own key
    ``key-<customer>``; otherwise customer *i* uses ``keys[i % len(keys)]``."""

    customers: int = 50
    keys: tuple[str, ...] = ()
    heavy_customers: int | None = None
    """How many top customers send heavy prompts (default: ~3 %, at least 1)."""
    stream_rate: float = 0.35
    error_rate: float = 0.02
    retry_rate: float = 0.03
    """Share of calls the gateway sends twice with the same ``event_id``."""
    gateway: str = "simulator"
    models: tuple[Model, ...] = MODELS
    features: tuple[Feature, ...] = FEATURES

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError("customers must be at least 1")
        for name in ("stream_rate", "error_rate", "retry_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        for key in self.keys:
            try:
                _KEY_ID.validate_python(key)
            except ValidationError:
                raise ValueError(
                    f"key id {key!r} must start with a letter or digit and use only letters, "
                    "digits and _.:@/+=- (at most 128 characters)"
                ) from None


@dataclass
class TrafficSummary:
    """Counts over simulated events; ``duplicates`` are retries (already-seen ``event_id``)."""

    events: int = 0
    unique: int = 0
    duplicates: int = 0
    errors: int = 0
    streamed: int = 0
    per_customer: Counter[str] = field(default_factory=Counter)
    _seen: set[str] = field(default_factory=set, repr=False)

    def add(self, event: UsageEvent) -> None:
        self.events += 1
        if event.event_id in self._seen:
            self.duplicates += 1
            return
        self._seen.add(event.event_id)
        self.unique += 1
        self.errors += event.status == Status.ERROR
        self.streamed += event.streamed
        self.per_customer[event.tag_values("customer")[0]] += 1


def customer_ids(count: int) -> list[str]:
    """``cust-0001`` … in rank order: the first ones are the heaviest."""
    width = max(4, len(str(count)))
    return [f"cust-{i + 1:0{width}d}" for i in range(count)]


def simulate(
    profile: TrafficProfile, *, seed: int, start: datetime, rate: float, count: int
) -> Iterator[UsageEvent]:
    """``count`` events (retries included) at ``rate`` events/s from ``start`` on
    (``occurred_at = start + i / rate``). Same arguments, same events, same ids."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    return _Generator(profile, seed).run(start, rate, count)


class _Generator:
    def __init__(self, profile: TrafficProfile, seed: int) -> None:
        self.p = profile
        self.rng = random.Random(seed)
        self.customers = customer_ids(profile.customers)
        # Zipf-like: customer k gets weight 1/k^1.2, so a handful dominate and most are small.
        self.customer_weights = list(
            _cumulative([1 / (k + 1) ** 1.2 for k in range(profile.customers)])
        )
        heavy = profile.heavy_customers
        self.heavy = max(1, round(profile.customers * 0.03)) if heavy is None else heavy
        self.models = {m.name: m for m in profile.models}
        self.feature_weights = list(_cumulative([f.weight for f in profile.features]))

    def run(self, start: datetime, rate: float, count: int) -> Iterator[UsageEvent]:
        emitted = 0
        step = 1 / rate
        while emitted < count:
            at = start + timedelta(seconds=emitted * step)
            event = self._call(at)
            yield event
            emitted += 1
            if emitted < count and self.rng.random() < self.p.retry_rate:
                yield event
                emitted += 1

    def _call(self, at: datetime) -> UsageEvent:
        rng = self.rng
        index = _pick(rng, self.customer_weights)
        customer = self.customers[index]
        feature = self.p.features[_pick(rng, self.feature_weights)]
        model = self._model(feature)
        heavy = index < self.heavy
        prompt = _lognormal(rng, feature.prompt_tokens * (4 if heavy else 1))
        output = _lognormal(rng, feature.output_tokens * (2 if heavy else 1))
        failed = rng.random() < self.p.error_rate
        streamed = rng.random() < self.p.stream_rate
        tokens = self._tokens(rng, feature, model, prompt, output, failed)
        keys = self.p.keys
        api_key_id = keys[index % len(keys)] if keys else f"key-{customer}"
        latency = 150 + tokens.output * (12 if streamed else 9) + rng.randint(0, 400)
        tags = [f"customer:{customer}", f"feature:{feature.name}"]
        if rng.random() < 0.2:
            tags.append("env:staging")
        unix_ms = math.floor(at.timestamp() * 1000)
        return UsageEvent(
            event_id=uuid7(unix_ms, rng.getrandbits(74)),
            occurred_at=at,
            gateway=self.p.gateway,
            api_key_id=api_key_id,
            request_id=f"sim-{rng.getrandbits(48):012x}",
            provider=model.provider,
            model=model.name,
            tokens=tokens,
            tags=tags,
            status=Status.ERROR if failed else Status.SUCCESS,
            streamed=streamed,
            latency_ms=0 if failed else latency,
        )

    def _model(self, feature: Feature) -> Model:
        candidates = [self.models[n] for n in feature.models if n in self.models]
        if not candidates:
            candidates = list(self.p.models)
        weights = list(_cumulative([m.weight for m in candidates]))
        return candidates[_pick(self.rng, weights)]

    @staticmethod
    def _tokens(
        rng: random.Random, feature: Feature, model: Model, prompt: int, output: int, failed: bool
    ) -> TokenCounts:
        if failed:
            return TokenCounts()
        cache_read = cache_write = 0
        if rng.random() < feature.cache_share:
            prefix = int(prompt * rng.uniform(0.5, 0.9))
            # Most cached calls hit a warm prefix; Anthropic also bills the write that warms it.
            if model.provider == "anthropic" and rng.random() < 0.15:
                cache_write = prefix
            else:
                cache_read = prefix
        reasoning = int(output * rng.uniform(0.3, 0.8)) if model.reasoning else 0
        return TokenCounts(
            input=prompt - cache_read - cache_write,
            output=output,
            cache_read=cache_read,
            cache_write=cache_write,
            reasoning=reasoning,
        )


def _cumulative(weights: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    return min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _lognormal(rng: random.Random, median: float) -> int:
    return max(1, min(int(rng.lognormvariate(math.log(max(median, 1)), 0.6)), 2_000_000))
