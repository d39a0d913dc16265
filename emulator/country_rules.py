"""Market rules the emulator serves from GET /v1/countryvalidationrules/{iso2}: realistic for the markets the
project is tested in, permissive for every other ISO country."""

from __future__ import annotations

from typing import Any

from emulator.countries import ISO_ALPHA2, REGISTRATION_COUNTRIES

PHONE = r"^\+?[0-9][0-9 ()\-.]{4,24}$"

# Kept as compact strings on purpose (split below).
_US = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
US_STATES = _US.split()
_CA = "AB BC MB NB NL NS NT NU ON PE QC SK YT"
CA_PROVINCES = _CA.split()
_AU = "ACT NSW NT QLD SA TAS VIC WA"
AU_STATES = _AU.split()
_BR = "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO"
BR_STATES = _BR.split()
IN_STATES = [
    "Andhra Pradesh", "Assam", "Bihar", "Delhi", "Goa", "Gujarat", "Haryana", "Karnataka", "Kerala",
    "Madhya Pradesh", "Maharashtra", "Odisha", "Punjab", "Rajasthan", "Tamil Nadu", "Telangana",
    "Uttar Pradesh", "West Bengal",
]  # fmt: skip

# iso2: (postal regex or None, postal required, states, state required, cultures, languages)
_MARKETS: dict[str, tuple[str | None, bool, list[str], bool, list[str], list[str]]] = {
    "US": (r"^\d{5}(-\d{4})?$", True, US_STATES, True, ["en-US", "es-US"], ["en", "es"]),
    "CA": (r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$", True, CA_PROVINCES, True, ["en-CA", "fr-CA"], ["en", "fr"]),
    "GB": (r"^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$", True, [], False, ["en-GB"], ["en"]),
    "DE": (r"^\d{5}$", True, [], False, ["de-DE", "en-US"], ["de", "en"]),
    "FR": (r"^\d{5}$", True, [], False, ["fr-FR"], ["fr"]),
    "NL": (r"^\d{4} ?[A-Za-z]{2}$", True, [], False, ["nl-NL", "en-US"], ["nl", "en"]),
    "SE": (r"^\d{3} ?\d{2}$", True, [], False, ["sv-SE", "en-US"], ["sv", "en"]),
    "NO": (r"^\d{4}$", True, [], False, ["nb-NO", "en-US"], ["nb", "no", "en"]),
    "TR": (r"^\d{5}$", True, [], False, ["tr-TR", "en-US"], ["tr", "en"]),
    "BR": (r"^\d{5}-?\d{3}$", True, BR_STATES, True, ["pt-BR"], ["pt"]),
    "IN": (r"^\d{6}$", True, IN_STATES, True, ["en-IN", "hi-IN"], ["en", "hi"]),
    "PL": (r"^\d{2}-\d{3}$", True, [], False, ["pl-PL"], ["pl"]),
    "ZA": (r"^\d{4}$", True, [], False, ["en-ZA"], ["en"]),
    "AE": (None, False, [], False, ["ar-AE", "en-US"], ["ar", "en"]),
    "RU": (r"^\d{6}$", True, [], False, ["ru-RU"], ["ru"]),
    "UA": (r"^\d{5}$", True, [], False, ["uk-UA", "ru-RU"], ["uk", "ru"]),
    "JP": (r"^\d{3}-?\d{4}$", True, [], False, ["ja-JP"], ["ja"]),
    "AU": (r"^\d{4}$", True, AU_STATES, True, ["en-AU"], ["en"]),
    "CN": (r"^\d{6}$", True, [], False, ["zh-CN"], ["zh"]),
}


def rules_for(iso2: str) -> dict[str, Any] | None:
    """The rules for a country code, or None when it is not a country Partner Center knows."""
    code = iso2.upper()
    if code not in ISO_ALPHA2:
        return None
    postal, postal_required, states, state_required, cultures, languages = _MARKETS.get(
        code, (None, False, [], False, [], [])
    )
    return {
        "iso2Code": code,
        "defaultCulture": cultures[0] if cultures else "en-US",
        "isCityRequired": True,
        "isPostalCodeRequired": postal_required,
        "isStateRequired": state_required,
        "isRegistrationNumberSupported": code in REGISTRATION_COUNTRIES,
        "isVatIdSupported": False,
        "phoneNumberRegex": PHONE,
        "postalCodeRegex": postal,
        "states": states,
        "supportedCultures": cultures,
        "supportedLanguages": languages,
        "attributes": {"objectType": "CountryValidationRules"},
    }
