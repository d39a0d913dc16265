"""A malformed `201` from Partner Center, carrying the new admin's password: the password appears in no log,
event, ledger row, exception text or host output, and the answer is a classified, retried error naming the field."""

from __future__ import annotations

import io
import json
import logging
import traceback
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from devhost.console import report_failed_invocation
from handlers.adapters.entra import MsalTokenProvider
from handlers.adapters.event_grid import EventGridPublisher
from handlers.adapters.partner_center import PartnerCenterClient
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.onboarding.dependencies import Dependencies
from handlers.onboarding.pipeline import handle_message
from handlers.triggers import InvocationFailed, run_invocation
from tests.fakes import FakeEventSink, FakeLedgerRows, dependencies, message, retry_policy, sample
from tests.fakes.budget import FreeBudget
from tests.fakes.malformed_answers import PLANTED, PLANTED_NUMBER, SHAPES


def partner_center(created: httpx.Response) -> PartnerCenterClient:
    """Pre-flight passes; the create answers `created`."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.url.path == "/v1/validations/address":
            return httpx.Response(200, json={"status": "VerifiedShippable"})
        if request.url.path.startswith("/v1/countryvalidationrules/"):
            return httpx.Response(200, json={"iso2Code": "SE"})
        return created

    async def no_wait(seconds: float) -> None:
        return None

    class Tokens:
        async def get_token(self) -> str:
            return "token-for-tests"

    return PartnerCenterClient(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        Tokens(),
        base_url="https://pc.test",
        budget=FreeBudget(),
        retry_policy=retry_policy(max_attempts=2, sleep=no_wait),
    )


def everything_written(
    exc: BaseException, deps: Dependencies, sink: FakeEventSink, caplog: pytest.LogCaptureFixture
) -> dict[str, str]:
    """Every door out: the exception as the worker serialises it, the host's report of it, logs, events, rows."""
    host_output = io.StringIO()
    report_failed_invocation("onboard_customer", "message-1", 1, exc, host_output)
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    assert isinstance(deps.ledger.rows, FakeLedgerRows)
    return {
        "exception": f"{type(exc).__name__}: {exc} {exc!r}",
        "traceback": "".join(traceback.format_exception(exc)),
        "host output": host_output.getvalue(),
        "logs": "\n".join(formatter.format(record) for record in caplog.records),
        "events": json.dumps(sink.events),
        "ledger rows": repr(deps.ledger.rows.rows),
    }


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_malformed_201_leaks_nothing_and_is_retried_naming_the_field(
    shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    body, field = SHAPES[shape]
    sink = FakeEventSink()
    deps = replace(dependencies(sink=sink), partner_center=partner_center(httpx.Response(201, json=body)))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as caught:  # noqa: PT011 — whatever leaves the pipeline is what is read
        await handle_message(message(sample()), deps)
    written = everything_written(caught.value, deps, sink, caplog)
    for door, text in written.items():
        assert PLANTED not in text, f"the planted password leaked through the {door}"
        assert str(PLANTED_NUMBER) not in text, f"the planted numeric password leaked through the {door}"
    error = caught.value
    assert isinstance(error, OnboardingError), type(error).__name__
    assert error.kind is ErrorKind.TRANSIENT  # a create may have been committed: retried, never reported failed
    assert f"could not be read: {field} " in error.message
    assert sink.events == []


async def test_a_201_that_is_not_json_is_retried() -> None:
    deps = replace(dependencies(), partner_center=partner_center(httpx.Response(201, content=b"<html>oops</html>")))
    with pytest.raises(OnboardingError) as caught:
        await handle_message(message(sample()), deps)
    assert caught.value.kind is ErrorKind.TRANSIENT and "not JSON" in caught.value.message


async def test_a_201_with_a_lone_surrogate_is_retried_not_published() -> None:
    body = b'{"id": "c-\\udfff", "userCredentials": {"userName": "admin", "password": "%s"}}' % PLANTED.encode()
    sink = FakeEventSink()
    deps = replace(dependencies(sink=sink), partner_center=partner_center(httpx.Response(201, content=body)))
    with pytest.raises(OnboardingError) as caught:
        await handle_message(message(sample()), deps)
    assert caught.value.kind is ErrorKind.TRANSIENT and "lone surrogate" in caught.value.message
    assert sink.events == []


async def test_a_token_that_cannot_go_into_a_header_is_classified() -> None:
    provider = MsalTokenProvider(lambda: {"access_token": "tok\u00e9n value", "expires_in": 3600}, what="Entra ID")
    with pytest.raises(OnboardingError) as caught:
        await provider.get_token()
    assert caught.value.kind is ErrorKind.TRANSIENT


async def test_an_exception_of_a_library_leaves_the_function_with_our_message_only() -> None:
    async def leaky(body: bytes, deps: Dependencies) -> None:
        try:
            raise KeyError(f"password={PLANTED}")
        except KeyError as inner:
            raise ValueError(f"could not parse {{'password': '{PLANTED}'}}") from inner

    with pytest.raises(InvocationFailed) as caught:
        await run_invocation("onboard_customer", leaky, b"{}", dependencies)
    text = "".join(traceback.format_exception(caught.value))
    assert PLANTED not in text
    assert "ValueError raised in leaky (test_malformed_answers.py:" in str(caught.value)


async def test_an_onboarding_error_leaves_the_function_without_what_it_was_raised_from() -> None:
    async def chained(body: bytes, deps: Dependencies) -> None:
        try:
            raise RuntimeError(f"socket said {PLANTED}")
        except RuntimeError:
            raise OnboardingError(ErrorKind.TRANSIENT, "Partner Center got no answer") from None

    async def implicit(body: bytes, deps: Dependencies) -> None:
        try:
            raise RuntimeError(f"socket said {PLANTED}")
        except RuntimeError:
            raise OnboardingError(ErrorKind.TRANSIENT, "Partner Center got no answer")  # noqa: B904 — on purpose

    for handler in (chained, implicit):
        with pytest.raises(OnboardingError) as caught:
            await run_invocation("onboard_customer", handler, b"{}", dependencies)
        assert PLANTED not in "".join(traceback.format_exception(caught.value))


def test_the_host_output_escapes_control_characters() -> None:
    out = io.StringIO()
    report_failed_invocation("f", "m-1", 2, OnboardingError(ErrorKind.TRANSIENT, "bad \x1b[2J id"), out)
    text = out.getvalue()
    assert "\x1b" not in text and "\\x1b[2J" in text
    assert "Executed 'Functions.f' (Failed, Id=m-1, Delivery=2)" in text
    assert "Result: Failure\nException: OnboardingError: transient: bad" in text


async def test_an_unreadable_token_answer_is_classified_without_quoting_it() -> None:
    provider = MsalTokenProvider(lambda: {"access_token": PLANTED, "expires_in": "soon"}, what="Entra ID")
    with pytest.raises(OnboardingError) as caught:
        await provider.get_token()
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert PLANTED not in "".join(traceback.format_exception(caught.value))


async def test_an_event_grid_retry_after_that_only_looks_like_digits_is_ignored() -> None:
    superscript_two = [(b"Retry-After", "²".encode("latin-1"))]  # as a server may send it
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503, headers=superscript_two)))
    publisher = EventGridPublisher(
        http,
        "https://eg.test/api/events",
        key=SecretStr("k" * 12),
        tokens=None,
        retry_policy=retry_policy(max_attempts=1),
    )
    with pytest.raises(OnboardingError) as caught:
        await publisher.publish([{"id": "e-1"}])
    assert caught.value.retry_after is None
