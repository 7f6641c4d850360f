"""``stream.app.create_app``: nothing at import, everything from the settings passed in."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from stream.config import StreamSettings
from stream.errors import PriceFileError
from stream.fetch_wait import FACTORY, _consumer_thread_class


def test_importing_the_app_modules_reads_nothing_and_patches_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def factory(self: object, transport: object) -> None: ...

    monkeypatch.setattr(_consumer_thread_class(), FACTORY, factory)
    monkeypatch.setenv("METERLINE_PRICE_FILE", "/nonexistent/prices.yaml")
    for name in ("stream.app", "stream.agents", "stream.budget_agents", "stream.__main__"):
        importlib.reload(importlib.import_module(name))
    assert getattr(_consumer_thread_class(), FACTORY) is factory


def test_two_apps_from_two_settings() -> None:
    from stream.app import create_app

    one = create_app(StreamSettings(topic_prefix="one.", price_file=None))
    two = create_app(
        StreamSettings(
            topic_prefix="two.", stream_app_id="other", stream_fetch_partition_bytes=2 * 2**20
        )
    )
    assert one.conf.id == "one.meterline-stream"
    assert two.conf.id == "two.other"
    assert one.conf.consumer_max_fetch_size == 4 * 2**20
    assert two.conf.consumer_max_fetch_size == 2 * 2**20
    assert one.usage.topics.raw.get_topic_name() == "one.meterline.usage.raw"
    assert two.budgets.topics.deltas.get_topic_name() == "two.meterline.budgets.deltas"
    assert (
        set(one.agents)
        == set(two.agents)
        == {
            "stream.agents.enrich_usage",
            "stream.budget_agents.budget_spend",
            "stream.budget_agents.budget_evaluate",
        }
    )


def test_a_bad_price_file_is_a_clear_error_at_start(tmp_path: Path) -> None:
    from stream.app import create_app

    prices = tmp_path / "prices.yaml"
    prices.write_text("- provider: openai\n  model: gpt-4o\n  input: lots\n")
    with pytest.raises(PriceFileError, match=r"prices\.yaml"):
        create_app(StreamSettings(price_file=prices))
