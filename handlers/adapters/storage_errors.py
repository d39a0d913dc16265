"""Azure Storage failures, classified in one place for every storage adapter (ledger rows, parking)."""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError

from handlers.failures import ErrorKind, OnboardingError


def answer_lost(exc: BaseException) -> bool:
    """The request went out but no answer came back (a timeout, a dropped connection): it may have committed.
    azure-core raises ServiceResponseError for that, ServiceRequestError when the request never left."""
    return isinstance(exc, ServiceResponseError)


def storage_failure(what: str, exc: AzureError) -> OnboardingError:
    """Any other storage failure, as a transient error that names the operation and the status, never the data."""
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    cause = "not sent" if isinstance(exc, ServiceRequestError) else type(exc).__name__
    detail = f"HTTP {status}" if status is not None else cause
    return OnboardingError(ErrorKind.TRANSIENT, f"storage {what} failed ({detail})")
