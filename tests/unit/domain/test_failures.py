"""Retry hints: `retryable` says whether the same request, unchanged, could succeed later; refusals a resend cannot
fix say what the operator must change."""

from __future__ import annotations

import pytest

from handlers.domain.error_codes import failure_from_error
from handlers.domain.failures import ErrorKind, OnboardingError, Reason


def refused(kind: ErrorKind, status: int, code: str | None, *, retryable: bool | None = None) -> OnboardingError:
    return OnboardingError(kind, "Partner Center refused it", http_status=status, code=code, is_retryable=retryable)


def test_an_app_only_token_on_an_app_user_api_is_not_retryable_and_says_what_to_change() -> None:
    failure = failure_from_error(refused(ErrorKind.AUTH, 403, "900329"))
    assert (failure.reason, failure.retryable) == (Reason.NOT_AUTHORIZED, False)
    assert "App+User" in failure.message and "indirectResellerId" in failure.message
    assert failure.partner_center is not None and failure.partner_center.code == "900329"


@pytest.mark.parametrize("code", ["900420", "800001", None])
def test_a_credential_an_operator_can_fix_stays_retryable(code: str | None) -> None:
    failure = failure_from_error(refused(ErrorKind.AUTH, 401, code))
    assert (failure.reason, failure.retryable) == (Reason.NOT_AUTHORIZED, True)
    assert failure.message == "Partner Center refused it"


@pytest.mark.parametrize(
    ("code", "named"),
    [("2030", "market"), ("900123", "reseller must accept"), ("900124", "global admin"), ("800018", "75 customers")],
)
def test_partner_account_refusals_name_who_must_act(code: str, named: str) -> None:
    failure = failure_from_error(refused(ErrorKind.BUSINESS, 403 if code != "800018" else 400, code))
    assert (failure.reason, failure.retryable) == (Reason.REJECTED_BY_PARTNER_CENTER, False)
    assert named in failure.message and f"code {code}" in failure.message


def test_partner_center_s_own_retryable_flag_is_kept_for_those() -> None:
    failure = failure_from_error(refused(ErrorKind.BUSINESS, 400, "800018", retryable=True))
    assert failure.retryable is True


def test_a_code_of_ours_that_looks_like_partner_center_s_is_not_rewritten() -> None:
    mine = OnboardingError(ErrorKind.AUTH, "Entra ID refused: invalid_client", code="900329")  # no HTTP status
    assert failure_from_error(mine).message == "Entra ID refused: invalid_client"
