"""Dataverse (Dynamics 365) webhooks: the `RemoteExecutionContext` JSON of an `account` Create or Update step.

The shape is the JSON serialization of Microsoft.Xrm.Sdk.RemoteExecutionContext that Dataverse posts to a
registered webhook (learn.microsoft.com: power-apps/developer/data-platform/use-webhooks, "Request body"): key/value
lists (`InputParameters`, `PreEntityImages`, `PostEntityImages`, an entity's `Attributes` and `FormattedValues`),
entities with `LogicalName` and `Id`, typed values marked with `__type` (`OptionSetValue`, `EntityReference`,
`Money`). An Update's Target holds only the changed columns, so the record is read as the pre-images, then the
Target, then the post-images (register a post-image with the mapped columns). A context over 256 KB arrives
without them and with the header `x-ms-dynamics-msg-size-exceeded`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from handlers.domain.field_errors import FieldError
from handlers.domain.text import echoable
from handlers.intake.crm.mapping import CrmRecord, LookupWithoutName
from handlers.intake.crm.senders import dataverse_organization
from handlers.intake.http_bodies import error

MAX_BODY_BYTES = 256 * 1024  # Dataverse trims a context above 256 KB and says so in a header
MESSAGES = ("Create", "Update")
# IPluginExecutionContext.Stage: 10 pre-validation, 20 pre-operation, 40 post-operation (50: post-operation, deprecated)
STAGES = {
    10: "PreValidation",
    20: "PreOperation",
    30: "MainOperation",
    40: "PostOperation",
    50: "PostOperation (deprecated)",
}
POST_OPERATION = 40
STEP_TO_REGISTER = (
    "register the step on account Create and Update, stage PostOperation (40), mode Asynchronous, with a post-image "
    "of the mapped columns: before PostOperation the record does not exist and has no id, so every account would be "
    "one request"
)
MISREGISTERED = "step_misregistered"  # the error code a route alerts on


def misregistered(field: str, what: str) -> FieldError:
    """The refusal of a context from a step registered where the record has no id yet."""
    return error(MISREGISTERED, f"{what}: {STEP_TO_REGISTER}.", field)


def _pairs(value: Any) -> Iterable[tuple[str, Any]]:
    """A serialized key/value list (`[{"key": k, "value": v}]`; `Key`/`Value` also seen) as pairs."""
    if not isinstance(value, list):
        return []
    pairs = []
    for item in value:
        if isinstance(item, dict):
            key = item.get("key", item.get("Key"))
            if isinstance(key, str):
                pairs.append((key, item.get("value", item.get("Value"))))
    return pairs


def _plain(value: Any, formatted: str | None) -> Any:
    """An attribute value as a §1 field can take it: option sets by their label, lookups by their name (a Target's
    lookups carry only their id: `"Name": null`; an image's carry the name, so images are read after the Target)."""
    if isinstance(value, dict):
        kind = str(value.get("__type", ""))
        if kind.startswith("OptionSetValue"):
            return formatted if formatted is not None else value.get("Value")
        if kind.startswith("EntityReference"):
            name = value.get("Name")
            return name if isinstance(name, str) and name.strip() else LookupWithoutName()
        if kind.startswith("Money"):
            return value.get("Value")
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return None


def _attributes(entity: Any) -> dict[str, Any]:
    if not isinstance(entity, dict):
        return {}
    formatted = {k: v for k, v in _pairs(entity.get("FormattedValues")) if isinstance(v, str)}
    return {key: _plain(value, formatted.get(key)) for key, value in _pairs(entity.get("Attributes"))}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_context(context: dict[str, Any], *, size_exceeded: bool = False) -> CrmRecord | list[FieldError]:
    """The account the context carries, or errors naming the context's fields."""
    errors: list[FieldError] = []
    entity = _text(context.get("PrimaryEntityName"))
    if entity != "account":
        errors.append(error("unsupported_entity", "PrimaryEntityName must be account.", "PrimaryEntityName"))
    if context.get("MessageName") not in MESSAGES:
        errors.append(error("unsupported_message", "MessageName must be Create or Update.", "MessageName"))
    organization = _text(context.get("OrganizationId"))
    if organization is None:
        errors.append(error("required", "OrganizationId is required.", "OrganizationId"))
    elif dataverse_organization(organization) is None:  # a GUID, else it names nothing (nor is safe to hash)
        errors.append(error("not_a_guid", "OrganizationId must be a GUID.", "OrganizationId"))
    inputs = dict(_pairs(context.get("InputParameters")))
    target = inputs.get("Target")
    record_id = _text(context.get("PrimaryEntityId")) or (_text(target.get("Id")) if isinstance(target, dict) else None)
    stage = context.get("Stage")
    if stage is not None and stage != POST_OPERATION:
        errors.append(misregistered("Stage", f"Stage is {stage} ({STAGES.get(stage, 'unknown')})"))
    elif record_id is None or record_id.strip("0-") == "":
        errors.append(misregistered("PrimaryEntityId", "the context carries no record id"))
    elif dataverse_organization(record_id) is None:
        errors.append(error("not_a_guid", "PrimaryEntityId must be a GUID.", "PrimaryEntityId"))
    if not isinstance(target, dict):
        why = (
            "the context was over 256 KB and Dataverse left it out (x-ms-dynamics-msg-size-exceeded): "
            "register the step with fewer columns"
            if size_exceeded
            else "it must hold the account"
        )
        errors.append(error("required", f"InputParameters.Target is missing: {why}.", "InputParameters.Target"))
    if errors or organization is None or record_id is None:
        return errors
    attributes: dict[str, Any] = {}
    for _, image in _pairs(context.get("PreEntityImages")):
        attributes.update(_attributes(image))
    attributes.update(_attributes(target))
    for _, image in _pairs(context.get("PostEntityImages")):
        attributes.update(_attributes(image))
    attributes.setdefault("accountid", record_id)
    correlation = _text(context.get("CorrelationId"))  # only echoed: made safe to carry, never refused
    correlation_id = echoable(correlation)[:128] if correlation else None
    return CrmRecord("dataverse", organization, record_id, attributes, correlation_id)
