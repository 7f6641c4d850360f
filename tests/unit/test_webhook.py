from __future__ import annotations

import hashlib
import hmac
from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinks.config import WebhookSettings
from sinks.webhook import (
    DeliveredLog,
    WebhookConfigError,
    WebhookNotifier,
    backoff_delays,
    sign,
    verify,
)


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"alert_id":"al_1"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign(b"s3cret", body) == f"sha256={expected}"


@given(st.binary(), st.binary(min_size=1))
def test_verify_accepts_only_the_same_body_and_secret(body: bytes, secret: bytes) -> None:
    signature = sign(secret, body)
    assert verify(secret, body, signature)
    assert not verify(secret + b"x", body, signature)
    assert not verify(secret, body + b" ", signature)


def test_backoff_doubles_up_to_the_cap_and_never_ends() -> None:
    assert list(islice(backoff_delays(0.5, 3), 7)) == [0.5, 1, 2, 3, 3, 3, 3]


def test_delivered_ids_survive_a_reopen(tmp_path) -> None:
    path = tmp_path / "state" / "delivered.sqlite"
    log = DeliveredLog(path)
    log.add("al_1")
    log.add("al_1")
    log.close()
    reopened = DeliveredLog(path)
    assert "al_1" in reopened and "al_2" not in reopened
    assert len(reopened) == 1
    reopened.close()


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"webhook_secret": "x"}, "METERLINE_WEBHOOK_URL"),
        ({"webhook_url": "http://127.0.0.1:9/hook"}, "METERLINE_WEBHOOK_SECRET"),
    ],
)
def test_notifier_refuses_to_run_unconfigured(settings, missing, tmp_path) -> None:
    with pytest.raises(WebhookConfigError, match=missing):
        WebhookNotifier(WebhookSettings(webhook_state_path=tmp_path / "d.sqlite", **settings))
