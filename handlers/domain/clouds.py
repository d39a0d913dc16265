"""Partner Center's clouds: where each one's API, sign-in and federated audience live, and its domain suffix
(partner-center.md, "Clouds")."""

from __future__ import annotations

from dataclasses import dataclass

PARTNER_CENTER_SCOPE = "https://api.partnercenter.microsoft.com/.default"  # app-only
# App+User (delegated): the Admin agent's sign-in, redeemed through the Secure Application Model.
USER_IMPERSONATION_SCOPE = "https://api.partnercenter.microsoft.com/user_impersonation"


@dataclass(frozen=True)
class Cloud:
    """Where a Partner Center cloud lives (partner-center.md, "Clouds")."""

    api_url: str
    authority_host: str
    domain_suffix: str
    federated_audience: str


CLOUDS: dict[str, Cloud] = {
    "public": Cloud(
        "https://api.partnercenter.microsoft.com",
        "https://login.microsoftonline.com",
        ".onmicrosoft.com",
        "api://AzureADTokenExchange",
    ),
    "usgov": Cloud(
        "https://api.partnercenter.microsoft.com",
        "https://login.microsoftonline.us",
        ".onmicrosoft.com",
        "api://AzureADTokenExchangeUSGov",
    ),
    "china": Cloud(
        "https://partner.partnercenterapi.microsoftonline.cn",
        "https://login.chinacloudapi.cn",
        ".partner.onmschina.cn",
        "api://AzureADTokenExchangeChina",
    ),
}
