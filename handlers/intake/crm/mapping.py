"""CRM records → §1 customer requests, through the field map of contract §6.

The map names, per CRM, the CRM attribute that fills each dotted §1 path (Dataverse: the `account` attribute's
logical name; Salesforce: the `Account` field's API name). The default ships as `default-field-map.json` beside
this module; the setting CRM_FIELD_MAP (a path, or the JSON itself) replaces paths of it, CRM by CRM: a path left
out keeps its default mapping.

A record that cannot be mapped is answered with field errors that name the CRM's attribute, not our path.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pycountry

from handlers.domain.countries import ISO_ALPHA2
from handlers.domain.field_errors import FieldError
from handlers.domain.request import CustomerRequest, InvalidRequest, parse_message

CrmName = Literal["dataverse", "salesforce"]
CRMS: tuple[CrmName, ...] = ("dataverse", "salesforce")
DEFAULT_MAP_FILE = Path(__file__).with_name("default-field-map.json")

# The §1 paths a CRM attribute may fill. requestId and schemaVersion are ours: the requestId derives from the
# record's identity and a version of the mapped content.
_ADDRESS = (
    "firstName", "middleName", "lastName", "addressLine1", "addressLine2", "addressLine3", "city", "state",
    "postalCode", "country", "region", "phoneNumber",
)  # fmt: skip
_CUSTOMER = (
    "companyName", "domainPrefix", "email", "culture", "language", "organizationRegistrationNumber",
    "enableGdapByDefault",
)  # fmt: skip
MAPPABLE_PATHS: frozenset[str] = frozenset(
    {
        "crmAccountId",
        "correlationId",
        "indirectResellerId",
        *(f"customer.{name}" for name in _CUSTOMER),
        *(f"customer.address.{name}" for name in _ADDRESS),
    }
)
# With state and country picklists off, Salesforce sends names in these fields instead of the *Code ones.
_FALLBACKS = {"BillingCountryCode": "BillingCountry", "BillingStateCode": "BillingState"}
# English names CRMs use that ISO 3166 (and pycountry) spell otherwise.
_COUNTRY_ALIASES = {
    "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "turkey": "TR", "russia": "RU", "holland": "NL",
    "the netherlands": "NL", "usa": "US", "u.s.a.": "US", "u.s.": "US", "america": "US",
    "united states of america": "US", "south korea": "KR", "korea": "KR", "czechia": "CZ", "vatican": "VA",
    "ivory coast": "CI", "macedonia": "MK", "swaziland": "SZ", "burma": "MM", "el": "GR", "vietnam": "VN",
    "iran": "IR", "syria": "SY", "laos": "LA", "moldova": "MD", "tanzania": "TZ", "bolivia": "BO",
    "venezuela": "VE", "taiwan": "TW", "palestine": "PS", "brunei": "BN", "cape verde": "CV",
}  # fmt: skip
_ID_CHARS = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


@dataclass(frozen=True)
class LookupWithoutName:
    """A lookup (a reference to another record) the CRM sent by id only, where a map needs its name."""


@dataclass(frozen=True)
class CrmRecord:
    """One CRM record as a webhook or message delivered it: its identity and its attributes as plain values."""

    crm: CrmName
    organization: str
    record_id: str
    attributes: Mapping[str, Any]
    correlation_id: str | None = None


@dataclass(frozen=True)
class FieldMap:
    """Per CRM: §1 path → CRM attribute."""

    maps: Mapping[CrmName, Mapping[str, str]]

    def for_crm(self, crm: CrmName) -> Mapping[str, str]:
        """The map of one CRM."""
        return self.maps[crm]


def _read_map_setting(setting: str) -> Any:
    text = setting.strip()
    if not text.startswith(("{", "[")):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError:
            raise ValueError("CRM_FIELD_MAP is neither JSON nor a readable file") from None
    return json.loads(text)


def _checked(raw: Any, origin: str) -> dict[CrmName, dict[str, str]]:
    if not isinstance(raw, dict):
        raise ValueError(f"{origin}: the field map must be a JSON object with 'dataverse' and/or 'salesforce'")
    maps: dict[CrmName, dict[str, str]] = {}
    for crm, mapping in raw.items():
        if crm not in CRMS:
            raise ValueError(f"{origin}: unknown CRM {crm!r} (expected dataverse or salesforce)")
        if not isinstance(mapping, dict):
            raise ValueError(f"{origin}: {crm} must map §1 paths to attribute names")
        for path, attribute in mapping.items():
            if path not in MAPPABLE_PATHS:
                raise ValueError(f"{origin}: {crm}: {path!r} is not a §1 path a CRM attribute can fill")
            if not isinstance(attribute, str) or not attribute.strip():
                raise ValueError(f"{origin}: {crm}: {path} must name an attribute")
        maps[crm] = {path: attribute.strip() for path, attribute in mapping.items()}
    return maps


def load_field_map(setting: str | None = None) -> FieldMap:
    """The shipped default map with CRM_FIELD_MAP's paths over it; raises ValueError when the setting is not a
    valid map (or names no readable file)."""
    merged = _checked(json.loads(DEFAULT_MAP_FILE.read_text(encoding="utf-8")), DEFAULT_MAP_FILE.name)
    if setting and setting.strip():
        try:
            custom = _checked(_read_map_setting(setting), "CRM_FIELD_MAP")
        except json.JSONDecodeError:
            raise ValueError("CRM_FIELD_MAP is not valid JSON") from None
        for crm, mapping in custom.items():
            merged[crm] = {**merged.get(crm, {}), **mapping}
    return FieldMap(maps=merged)


def country_code(value: str) -> str | None:
    """An ISO 3166-1 alpha-2 code for a code or a country name ("SE", "SWE", "Sweden", "Türkiye"); None if unknown."""
    text = " ".join(value.split())
    if len(text) == 2 and text.upper() in ISO_ALPHA2:
        return text.upper()
    folded = text.casefold()
    if folded in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[folded]
    for candidate in (text, text[4:] if folded.startswith("the ") else ""):
        if not candidate:
            continue
        try:
            return str(pycountry.countries.lookup(candidate).alpha_2)
        except LookupError:
            continue
    return _names_without_marks().get(_without_marks(text))  # "Turkiye", "Cote d’Ivoire"


def _without_marks(name: str) -> str:
    """A name with accents dropped, apostrophes made straight and case folded: how a CRM field may spell it."""
    decomposed = unicodedata.normalize("NFKD", name.replace("\u2019", "'").replace("\u2018", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@functools.cache
def _names_without_marks() -> dict[str, str]:
    """Every ISO country name (short, official, common) without marks → its alpha-2 code."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            name = getattr(country, attribute, None)
            if isinstance(name, str):
                names.setdefault(_without_marks(name), str(country.alpha_2))
    return names


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return None  # lists, objects: nothing a §1 field takes


def _value(attributes: Mapping[str, Any], attribute: str) -> tuple[str, Any]:
    """The attribute's value and the attribute it came from (a fallback when the primary one is absent)."""
    value = _plain(attributes.get(attribute))
    fallback = _FALLBACKS.get(attribute)
    if value is None and fallback is not None and _plain(attributes.get(fallback)) is not None:
        return fallback, _plain(attributes.get(fallback))
    return attribute, value


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = target
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _boolean(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    return value


def mapped_content(record: CrmRecord, field_map: FieldMap) -> tuple[dict[str, Any], list[FieldError], dict[str, str]]:
    """The §1 request the record maps to (without requestId), the errors found while mapping, and which CRM
    attribute filled each path."""
    data: dict[str, Any] = {"schemaVersion": "1.0", "customer": {"address": {}}}
    errors: list[FieldError] = []
    sources: dict[str, str] = {}
    for path, attribute in sorted(field_map.for_crm(record.crm).items()):
        source, value = _value(record.attributes, attribute)
        sources[path] = source
        if isinstance(record.attributes.get(source), LookupWithoutName):
            message = (
                f"{source} is a lookup that arrived by id only: add {source} to the step's post-image, whose lookups "
                "carry their names."
            )
            errors.append(FieldError(field=source, code="lookup_without_name", message=message))
            continue
        if value is None:
            continue
        if path == "customer.address.country" and isinstance(value, str):
            code = country_code(value)
            if code is None:
                message = f"{source} is not a country name or ISO 3166-1 code Partner Center knows."
                errors.append(FieldError(field=source, code="country_unknown", message=message))
                continue
            value = code
        elif path == "customer.enableGdapByDefault":
            value = _boolean(value)
        elif path == "customer.address.addressLine1" and isinstance(value, str) and "\n" in value:
            lines = [line.strip() for line in value.splitlines() if line.strip()]  # a multi-line street field
            value = lines[0]
            for extra, line in zip(("addressLine2", "addressLine3"), lines[1:3], strict=False):
                _set(data, f"customer.address.{extra}", line)
        _set(data, path, value)
    data.setdefault("crmAccountId", record.record_id)
    data.setdefault("correlationId", record.correlation_id)
    return data, errors, sources


def content_version(data: Mapping[str, Any]) -> str:
    """A version of the mapped content: the same content always has the same version (16 hex digits)."""
    content = {k: v for k, v in data.items() if k not in ("requestId", "correlationId")}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]  # any text has a version


def id_part(value: str) -> str:
    """A CRM id as it may stand in a requestId or a storage key: itself when plain, else a hash of it."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass"))  # any text, a lone surrogate included, has one
    return value if _ID_CHARS.fullmatch(value) else digest.hexdigest()[:24]


def derive_request_id(prefix: str, organization: str, record_id: str, version: str) -> str:
    """`{prefix}:{organization}:{record}:{version}`: a replayed webhook is the same request, an edited record a new
    one. Parts with characters a requestId cannot hold are replaced by a hash of them."""
    return f"{prefix}:{id_part(organization)}:{id_part(record_id)}:{version}"


def _crm_error(error: FieldError, sources: Mapping[str, str]) -> FieldError:
    path = error.field
    attribute = sources.get(path) if path else None
    if attribute is None:
        return error
    message = error.message.replace(path, attribute, 1) if path and path in error.message else error.message
    if attribute not in message:
        message = f"{attribute}: {message}"
    return FieldError(field=attribute, code=error.code, message=message)


_PREFIXES: dict[CrmName, str] = {"dataverse": "dv", "salesforce": "sf"}


def request_id_of(record: CrmRecord, field_map: FieldMap) -> str:
    """The requestId this version of the record is (or would be, were it mappable): a refusal of it carries it."""
    data = mapped_content(record, field_map)[0]
    return derive_request_id(_PREFIXES[record.crm], record.organization, record.record_id, content_version(data))


def map_record(record: CrmRecord, field_map: FieldMap) -> CustomerRequest | list[FieldError]:
    """The record as a §1 request, or every field error it has, each naming the CRM's attribute."""
    data, errors, sources = mapped_content(record, field_map)
    data["requestId"] = derive_request_id(
        _PREFIXES[record.crm], record.organization, record.record_id, content_version(data)
    )
    # surrogatepass: a lone surrogate in an attribute reaches the request model, which names it (lone_surrogate)
    parsed = parse_message(json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if isinstance(parsed, InvalidRequest):
        named = {e.field for e in errors}  # a value refused while mapping is not reported "required" too
        return errors + [e for e in (_crm_error(e, sources) for e in parsed.errors) if e.field not in named]
    return errors or parsed
