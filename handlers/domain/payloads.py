"""Partner Center's payloads as this project reads them: tolerant of extra fields, secrets as SecretStr."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

GUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"


class _Payload(BaseModel):
    # An error about Partner Center's answer names the field and the rule, never the value: the Customer resource
    # carries the new admin's password.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, hide_input_in_errors=True)


class CompanyProfile(_Payload):
    tenantId: str | None = None
    domain: str | None = None
    companyName: str | None = None


class UserCredentials(_Payload):
    userName: str | None = None
    password: SecretStr | None = Field(default=None, repr=False)


class CustomerPayload(_Payload):
    """The Customer resource returned by `POST /v1/customers` and `GET /v1/customers/{id}`. Its id is a GUID, checked
    before it names anything (a Key Vault secret, a URL): an answer whose id is not one is malformed."""

    id: str = Field(pattern=GUID_PATTERN)
    commerceId: str | None = None
    companyProfile: CompanyProfile = Field(default_factory=CompanyProfile)
    relationshipToPartner: str | None = None
    userCredentials: UserCredentials | None = None
    associatedPartnerId: str | None = None


class CustomerPage(_Payload):
    """`GET /v1/customers?filter=…` → a page of customers."""

    items: list[CustomerPayload] | None = None


class Relationship(_Payload):
    """One of `GET /v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf`: an indirect reseller."""

    id: str
    name: str | None = None
    state: str | None = None


class RelationshipPage(_Payload):
    items: list[Relationship] = Field(default_factory=list)


class AgreementTemplate(_Payload):
    """One of `GET /v1/agreements?agreementType=…`: an agreement's metadata."""

    templateId: str
    agreementType: str | None = None


class AgreementTemplatePage(_Payload):
    items: list[AgreementTemplate] = Field(default_factory=list)


class AddressValidation(_Payload):
    """`POST /v1/validations/address` → status and suggestions."""

    status: str
    suggestedAddresses: list[dict[str, Any]] = Field(default_factory=list)
    originalAddress: dict[str, Any] | None = None
    validationMessage: str | None = None


class CountryRules(_Payload):
    """`GET /v1/countryvalidationrules/{iso2}`."""

    iso2Code: str | None = None
    isStateRequired: bool = False
    states: list[str] = Field(default_factory=list)
    isCityRequired: bool = False
    isPostalCodeRequired: bool = False
    postalCodeRegex: str | None = None
    phoneNumberRegex: str | None = None
    isRegistrationNumberSupported: bool = False
    supportedCultures: list[str] = Field(default_factory=list)
    supportedLanguages: list[str] = Field(default_factory=list)
    defaultCulture: str | None = None


class TokenAnswer(_Payload):
    """Entra ID's token answer as MSAL returns it (client credentials, managed identity)."""

    access_token: SecretStr = Field(repr=False)
    expires_in: float = Field(default=3600.0, ge=0, allow_inf_nan=False)

    @field_validator("access_token")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if not (token and token.isascii() and token.isprintable() and " " not in token):
            raise ValueError("a bearer token is printable ASCII")  # it goes into an HTTP header
        return value
