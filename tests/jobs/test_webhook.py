"""Webhook signatures and the callback URL policy (pure; names resolve through the real resolver or a given one)."""

from __future__ import annotations

import pytest

from jobs.settings import SettingsError
from jobs.webhook import (
    CallbackRefused,
    SignatureError,
    WebhookSettings,
    check_callback_url,
    checked_callback,
    refused_address,
    sign,
    signing_secret,
    verify,
)

SECRET = "s3cret-for-tests"
ON = WebhookSettings(secret=SECRET)
BODY = b'{"id":"x","status":"done"}'
NOW = 1_800_000_000


def test_a_signature_verifies_round_trip() -> None:
    header = sign(SECRET, BODY, NOW)
    assert header.startswith(f"t={NOW},v1=")
    verify(SECRET, BODY, header, now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "body", "header", "now", "why"),
    [
        (SECRET, BODY + b" ", sign(SECRET, BODY, NOW), NOW, "does not match"),  # the body was changed
        ("another secret", BODY, sign(SECRET, BODY, NOW), NOW, "does not match"),
        (SECRET, BODY, sign(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}"), NOW, "does not match"),
        (SECRET, BODY, sign(SECRET, BODY, NOW), NOW + 301, "old"),  # a replay, five minutes later
        (SECRET, BODY, sign(SECRET, BODY, NOW + 400), NOW, "old"),  # from the future
        (SECRET, BODY, None, NOW, "no Darkroom-Signature"),
        (SECRET, BODY, "v1=abc", NOW, "timestamp"),
        (SECRET, BODY, f"t={NOW}", NOW, "does not match"),
    ],
    ids=["tampered-body", "wrong-secret", "moved-timestamp", "expired", "future", "missing", "no-time", "no-mac"],
)
def test_tampered_or_expired_signatures_are_refused(
    secret: str, body: bytes, header: str | None, now: int, why: str
) -> None:
    with pytest.raises(SignatureError, match=why):
        verify(secret, body, header, now=now)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "169.254.169.254",
        "fe80::1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.10",
        "fd00::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(address: str) -> None:
    assert refused_address(address) is not None
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(CallbackRefused, match="resolves to"):
        check_callback_url(f"https://{host}/hook", ON)


def test_public_addresses_pass() -> None:
    assert refused_address("93.184.216.34") is None and refused_address("2606:2800:220:1::1") is None
    url = "https://hooks.example.com/darkroom?x=1"
    assert check_callback_url(url, ON, resolve=lambda host, port: ["93.184.216.34"]) == url


def test_a_name_that_resolves_to_a_refused_address_is_refused() -> None:
    with pytest.raises(CallbackRefused, match="localhost"):
        check_callback_url("https://localhost:8443/hook", ON)  # the real resolver: 127.0.0.1 and ::1
    for address in ("169.254.169.254", "10.1.2.3", "192.168.0.7"):
        with pytest.raises(CallbackRefused, match=address):  # e.g. a public name someone pointed inward
            check_callback_url("https://innocent.example/hook", ON, resolve=lambda h, p, a=address: [a])
    mixed = ["93.184.216.34", "10.0.0.1"]  # one bad address is enough
    with pytest.raises(CallbackRefused):
        check_callback_url("https://mixed.example/", ON, resolve=lambda h, p: mixed)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.216.34/hook", "https"),
        ("ftp://93.184.216.34/", "https"),
        ("https:///nohost", "no host"),
        ("https://user:pw@93.184.216.34/", "credentials"),
        ("https://does-not-exist.invalid/", "does not resolve"),
        (42, "URL"),
        ("https://x.example/" + "a" * 3000, "URL"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused(url: object, why: str) -> None:
    with pytest.raises(CallbackRefused, match=why):
        check_callback_url(url, ON)


def test_settings_open_http_and_private_addresses_for_local_use() -> None:
    local = WebhookSettings.from_env(
        {"DARKROOM_WEBHOOK_SECRET": SECRET, "DARKROOM_WEBHOOK_ALLOW_HTTP": "1", "DARKROOM_WEBHOOK_ALLOW_PRIVATE": "1"}
    )
    assert check_callback_url("http://127.0.0.1:9999/hook", local) == "http://127.0.0.1:9999/hook"
    with pytest.raises(CallbackRefused, match="not enabled"):
        check_callback_url("https://hooks.example.com/", WebhookSettings())  # no secret: no callbacks
    with pytest.raises(SettingsError):
        WebhookSettings(secret=SECRET, attempts=0)
    assert [ON.backoff(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # carrier-grade NAT: a provider's inside
        "100.127.255.254",
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2002:a9fe:a9fe::1",  # 6to4 of the metadata service
        "fec0::1",  # site-local
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata service
        "198.18.0.1",  # benchmarking
    ],
)
def test_every_address_that_is_not_global_is_refused(address: str) -> None:
    assert refused_address(address) is not None
    with pytest.raises(CallbackRefused, match="resolves to"):
        check_callback_url("https://hooks.example/", ON, resolve=lambda h, p: [address])


def test_the_check_names_the_address_to_connect_to() -> None:
    resolved = ["93.184.216.34", "2606:2800:220:1::1"]
    callback = checked_callback("https://hooks.example.com:8443/in?x=1", ON, resolve=lambda h, p: resolved)
    assert (callback.host, callback.port, callback.target) == ("hooks.example.com", 8443, "/in?x=1")
    assert callback.address in resolved  # the delivery connects here, without resolving the name again


def test_each_key_signs_with_a_secret_of_its_own() -> None:
    one, other = "a" * 64, "b" * 64  # two keys' SHA-256
    secrets = {signing_secret(SECRET, one), signing_secret(SECRET, other), signing_secret(SECRET, None)}
    assert len(secrets) == 3 and signing_secret(SECRET, None) == SECRET  # a keyless job: the server's own
    body, now = b'{"id":"x"}', 1_700_000_000
    forged = sign(signing_secret(SECRET, other), body, now)  # the other key's receiver signs a body
    with pytest.raises(SignatureError, match="does not match"):
        verify(signing_secret(SECRET, one), body, forged, now=now)  # and the first key's receiver refuses it
