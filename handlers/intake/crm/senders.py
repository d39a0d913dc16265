"""Which CRM organizations may send records (contract §6): the function key is in every CRM administrator's endpoint
URL, so each route also names the organizations it accepts. Unset: the route accepts no organization."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from handlers.intake.crm.mapping import CrmName

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def dataverse_organization(value: str) -> str | None:
    """A Dataverse OrganizationId as compared: a GUID in lower case; None when it is no GUID."""
    folded = value.strip().lower()
    return folded if _GUID.fullmatch(folded) else None


def salesforce_organization(value: str) -> str | None:
    """A Salesforce OrganizationId as compared: its case-sensitive 15-character form (the 18-character form adds a
    case-insensitive checksum); None when it is no Salesforce id."""
    text = value.strip()
    return text[:15] if _SALESFORCE_ID.fullmatch(text) else None


@dataclass(frozen=True)
class CrmSenders:
    """The organizations each CRM route accepts."""

    dataverse: frozenset[str] = frozenset()
    salesforce: frozenset[str] = frozenset()

    @classmethod
    def of(cls, dataverse: Iterable[str] = (), salesforce: Iterable[str] = ()) -> CrmSenders:
        """From the settings' lists; raises ValueError naming a value that is no organization id."""
        listed = {
            "DATAVERSE_ORGANIZATION_IDS": (list(dataverse), dataverse_organization),
            "SALESFORCE_ORGANIZATION_IDS": (list(salesforce), salesforce_organization),
        }
        found: dict[str, frozenset[str]] = {}
        for setting, (values, normal) in listed.items():
            ids = [normal(v) for v in values if v.strip()]
            if None in ids:
                raise ValueError(f"{setting} holds a value that is no organization id of that CRM")
            found[setting] = frozenset(i for i in ids if i is not None)
        return cls(found["DATAVERSE_ORGANIZATION_IDS"], found["SALESFORCE_ORGANIZATION_IDS"])

    def accepts(self, crm: CrmName, organization: str) -> bool:
        """Whether `organization` may send records of `crm`."""
        if crm == "dataverse":
            return dataverse_organization(organization) in self.dataverse
        return salesforce_organization(organization) in self.salesforce
