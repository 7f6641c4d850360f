from __future__ import annotations

import hashlib
import hmac
from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinks.config import WebhookSettings
from sinks.webhook import (
    TOLERANCE_S,
    DeliveredLog,
    WebhookConfigError,
    WebhookNotifier,
    backoff_delays,
    sign,
    verify,
)

NOW = 1_780_000_000


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b'{"alert_id":"al_1"}'
    expected = hmac.new(b"s3cret", b"1780000000." + body, hashlib.sha256).hexdigest()
    assert sign(b"s3cret", body, NOW) == f"sha256={expected}"


@given(st.binary(), st.binary(min_size=1), st.integers(-TOLERANCE_S, TOLERANCE_S))
def test_verify_accepts_only_the_same_body_secret_and_timestamp(
    body: bytes, secret: bytes, skew: int
) -> None:
    signature = sign(secret, body, NOW)
    assert verify(secret, body, signature, str(NOW), now=NOW + skew)
    assert not verify(secret + b"x", body, signature, str(NOW), now=NOW)
    assert not verify(secret, body + b" ", signature, str(NOW), now=NOW)
    # The timestamp is signed: moving it forward to look fresh breaks the signature.
    assert not verify(secret, body, signature, str(NOW + 1), now=NOW + 1)


@pytest.mark.parametrize("age", [TOLERANCE_S + 1, 86_400, -(TOLERANCE_S + 1)])
def test_a_captured_request_does_not_verify_outside_the_window(age: int) -> None:
    signature = sign(b"k", b"{}", NOW)
    assert not verify(b"k", b"{}", signature, str(NOW), now=NOW + age)


@pytest.mark.parametrize("stamp", ["", "abc", "-5", "1.5", "١٧٨٠٠٠٠٠٠٠", "9" * 40])
def test_a_malformed_timestamp_never_verifies(stamp: str) -> None:
    assert not verify(b"k", b"{}", sign(b"k", b"{}", NOW), stamp, now=NOW)


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
