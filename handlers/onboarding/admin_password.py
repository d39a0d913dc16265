"""The first admin's password: into Key Vault when one is configured, otherwise dropped — never anywhere else."""

from __future__ import annotations

import logging

from handlers.domain.events import CreatedData
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.payloads import CustomerPayload
from handlers.domain.ports import SecretStore
from handlers.observability.redaction import hold_secret

log = logging.getLogger("csp_onboarding")

CONTENT_TYPE = "application/vnd.csp-onboarding.customer-admin-password"


def secret_name(customer_id: str) -> str:
    """The vault secret of a customer's admin password: one name per customer, so stores are idempotent."""
    return f"csp-admin-{customer_id}"


async def keep_admin_password(
    customer: CustomerPayload,
    *,
    request_id: str,
    user_principal_name: str | None,
    vault: SecretStore | None,
    expires_in_days: int,
) -> str | None:
    """Store the password Partner Center generated; returns the secret id, or None when there is no vault (or no
    password). Raises OnboardingError when the vault refuses, so the queue retries (the create is idempotent)."""
    credentials = customer.userCredentials
    if credentials is None or credentials.password is None:
        return None
    hold_secret(credentials.password.get_secret_value())  # until this invocation ends
    if vault is None:
        log.info("No ADMIN_CREDENTIALS_VAULT_URL: the customer's admin password was dropped")
        return None
    tags = {
        "purpose": "csp-customer-first-admin-password",
        "customerId": customer.id,
        "tenantId": customer.companyProfile.tenantId or customer.id,
        "domain": customer.companyProfile.domain or "",
        "userPrincipalName": user_principal_name or "",
        "requestId": request_id,
        "rotate": "change at first sign-in, then delete this secret",
    }
    secret_id = await vault.set_secret(
        secret_name(customer.id),
        credentials.password,
        tags=tags,
        expires_in_days=expires_in_days,
        content_type=CONTENT_TYPE,
    )
    log.info("Admin password stored in Key Vault as %s", secret_id)
    return secret_id


async def keep_password_of(
    customer: CustomerPayload | None,
    *,
    request_id: str,
    customer_json: str | None,
    vault: SecretStore | None,
    expires_in_days: int,
) -> str | None:
    """Store the admin password of a recorded customer, if the answer carries one; a vault failure is transient (the
    customer is recorded: the next delivery asks for the answer again and retries the vault)."""
    if customer is None or customer.userCredentials is None or customer.userCredentials.password is None:
        if vault is not None:
            log.warning("Partner Center's answer carries no admin password: none is stored")
        return None
    upn = CreatedData.model_validate_json(customer_json).adminUserPrincipalName if customer_json else None
    try:
        return await keep_admin_password(
            customer, request_id=request_id, user_principal_name=upn, vault=vault, expires_in_days=expires_in_days
        )
    except OnboardingError as error:
        raise OnboardingError(ErrorKind.TRANSIENT, f"the admin password could not be stored: {error}") from None
