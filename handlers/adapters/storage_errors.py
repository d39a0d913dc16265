"""Azure Storage failures, classified in one place for every storage adapter (ledger rows, parking)."""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError

from handlers.domain.failures import ErrorKind, OnboardingError


def answer_lost(exc: BaseException) -> bool:
    """No answer came back, so the write may have committed. azure-core means ServiceResponseError for "sent, no
    answer" and ServiceRequestError for "never sent" — but its aiohttp transport reports a connection closed after
    the request went out as ServiceRequestError too (azure/core/pipeline/transport/_aiohttp.py), so neither proves
    that nothing was written: both are settled by reading the row back."""
    return isinstance(exc, (ServiceRequestError, ServiceResponseError))


def storage_failure(what: str, exc: AzureError) -> OnboardingError:
    """Any other storage failure, as a transient error that names the operation and the status, never the data."""
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    cause = "not sent" if isinstance(exc, ServiceRequestError) else type(exc).__name__
    detail = f"HTTP {status}" if status is not None else cause
    return OnboardingError(ErrorKind.TRANSIENT, f"storage {what} failed ({detail})")
