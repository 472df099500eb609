"""Revocation through the network paths, all on 127.0.0.1: CRL distribution points,
a dead responder with forceRevocationCheck, and a forged OCSP answer."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from cryptography import x509
from pkibuild import Made, issue
from revocation_server import Responder, crl_der, serve

from app.security.acceptance import is_acceptable
from app.security.revocation import RevocationOptions, ocsp_status
from app.security.revocation_fetch import http_fetcher
from app.security.system_validation import validate_server_chain
from app.security.testpki import SigningKey
from app.security.trust import anchors_from_certificates


@pytest.fixture(scope="module")
def root(keys: dict[str, SigningKey], window: dict[str, dt.datetime]) -> Made:
    return issue(
        "Online Root", key=keys["root"], ca=True, not_before=window["nb"], not_after=window["na"]
    )


def test_crl_distribution_point_is_fetched(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with serve(Responder(issuer=root, now=now)) as responder:
        leaf = issue(
            "server.test",
            key=keys["leaf"],
            issuer=root,
            dns=["server.test"],
            crl_url=responder.url("/crl"),
            not_before=window["nb"],
            not_after=window["na"],
        )
        responder.crl_der = crl_der(root, [leaf.cert.serial_number], now)
        result = validate_server_chain(
            [leaf.der],
            "server.test",
            anchors=anchors_from_certificates([root.cert], "t"),
            at=now,
            revocation=RevocationOptions(fetch_crls=True, fetcher=http_fetcher(timeout=5)),
        ).result
    assert result.revoked and not result.revocation_check_failed
    assert responder.requests == ["GET /crl"]


def test_dead_responder_with_forced_check_refuses(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        ocsp_url=f"http://127.0.0.1:{port}/ocsp",
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([root.cert], "t"),
        at=now,
        revocation=RevocationOptions(fetcher=http_fetcher(timeout=2)),
        force_revocation_check=True,
    ).result
    assert result.revocation_check_failed and not result.revoked
    assert "no usable revocation answer for: server.test" in result.reasons["revocationCheckFailed"]
    assert is_acceptable(result, revocation_forced=False)
    assert not is_acceptable(result, revocation_forced=True)


def test_forced_check_without_network_fails(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([root.cert], "t"),
        at=now,
        force_revocation_check=True,
    ).result
    assert (
        result.revocation_check_failed
        and "no network access" in result.reasons["revocationCheckFailed"]
    )


def test_ocsp_answer_signed_by_a_stranger_is_ignored(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    stranger = issue(
        "Online Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    forged = Responder(issuer=stranger, revoked_serials={leaf.cert.serial_number}, now=now)
    from app.security.revocation import ocsp_request_der

    answer = forged.ocsp_answer(ocsp_request_der(leaf.cert, root.cert))
    notes: list[str] = []
    assert ocsp_status(answer, leaf.cert, root.cert, now, notes) is None
    assert "not signed by its issuer" in notes[0]


# --- every bad input has a named reason -------------------------------------------------


ANSWERING_TIMEOUT = 10.0


def _forced_ocsp(
    root: Made,
    keys: dict[str, SigningKey],
    window: dict[str, dt.datetime],
    now: dt.datetime,
    url: str,
    **options: object,
) -> str:
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        ocsp_url=url,
        not_before=window["nb"],
        not_after=window["na"],
    )
    revocation = RevocationOptions(
        check_ocsp=True,
        # A responder that answers gets a timeout no loaded machine reaches (it costs
        # nothing when the answer comes); only the silent one is given a short one.
        fetcher=options.pop("fetcher", http_fetcher(timeout=ANSWERING_TIMEOUT)),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([root.cert], "t"),
        at=now,
        revocation=revocation,
        force_revocation_check=True,
    ).result
    assert result.revocation_check_failed and not is_acceptable(result, revocation_forced=True)
    return result.reasons["revocationCheckFailed"]


def test_ocsp_responder_down_is_named(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{placeholder.getsockname()[1]}/ocsp"
    reason = _forced_ocsp(root, keys, window, now, url)
    assert f"the OCSP responder {url} for 'server.test' failed: could not be reached" in reason


def test_ocsp_responder_that_never_answers_times_out_with_its_name(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    # The kernel accepts the connection into the backlog; nobody ever reads or answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/ocsp"
        reason = _forced_ocsp(root, keys, window, now, url, fetcher=http_fetcher(timeout=0.5))
    assert f"the OCSP responder {url} for 'server.test' failed: no answer within 0.5 s" in reason


def test_garbage_ocsp_answer_is_named(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    responder = Responder(issuer=root, now=now)
    responder.ocsp_backend = lambda request: b"this is not DER"
    with serve(responder):
        reason = _forced_ocsp(root, keys, window, now, responder.url("/ocsp"))
    assert "the OCSP answer for 'server.test' is not a valid OCSP response" in reason


def test_http_error_from_the_responder_is_named(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with serve(Responder(issuer=root, now=now)) as responder:
        url = responder.url("/elsewhere")  # the test server answers 400 there
        reason = _forced_ocsp(root, keys, window, now, url)
    assert f"the OCSP responder {url} for 'server.test' failed: the server answered HTTP" in reason


def test_spent_budget_leaves_the_rest_unasked(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    with serve(Responder(issuer=root, now=now)) as responder:
        reason = _forced_ocsp(root, keys, window, now, responder.url("/ocsp"), budget_seconds=0.0)
        assert responder.requests == []
    assert "was not asked: the revocation budget of 0 s was spent" in reason


def test_crl_of_another_issuer_is_no_answer_and_says_why(
    root: Made, keys: dict[str, SigningKey], window: dict[str, dt.datetime], now: dt.datetime
) -> None:
    stranger = issue(
        "Online Root", key=keys["other"], ca=True, not_before=window["nb"], not_after=window["na"]
    )
    leaf = issue(
        "server.test",
        key=keys["leaf"],
        issuer=root,
        dns=["server.test"],
        not_before=window["nb"],
        not_after=window["na"],
    )
    other_crl = x509.load_der_x509_crl(crl_der(stranger, [leaf.cert.serial_number], now))
    result = validate_server_chain(
        [leaf.der],
        "server.test",
        anchors=anchors_from_certificates([root.cert], "t"),
        at=now,
        revocation=RevocationOptions(crls=(other_crl,)),
        force_revocation_check=True,
    ).result
    assert not result.revoked and result.revocation_check_failed
    assert "bad signature" in result.reasons["revocationCheckFailed"]


def test_answers_are_cached_until_their_next_update(root: Made, now: dt.datetime) -> None:
    from app.security.revocation_fetch import CachingFetcher

    body = crl_der(root, [], now)  # nextUpdate: now + 1 day
    calls: list[str] = []

    def counting(url: str, request: bytes | None) -> bytes:
        calls.append(url)
        return body

    clock = [now]
    fetcher = CachingFetcher(counting, clock=lambda: clock[0])
    assert fetcher("http://crl.test/a", None) == body
    assert fetcher("http://crl.test/a", None) == body
    assert calls == ["http://crl.test/a"]
    clock[0] = now + dt.timedelta(days=2)  # past nextUpdate: asked again
    fetcher("http://crl.test/a", None)
    assert len(calls) == 2
    fetcher("http://crl.test/b", None)  # another URL is another answer
    assert calls[-1] == "http://crl.test/b"
