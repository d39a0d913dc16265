"""Salesforce outbound messages: a SOAP 1.1 `notifications` call carrying up to 100 `Account` notifications.

The shape is the one the outbound-messaging WSDL defines (developer.salesforce.com: api, "Understanding the
Outbound Messaging WSDL" and "Understanding Notifications"): `soapenv:Envelope/Body/notifications` in the namespace
`http://soap.sforce.com/2005/09/outbound` with `OrganizationId`, `ActionId`, `SessionId`, `EnterpriseUrl`,
`PartnerUrl` and up to 100 `Notification` elements, each an `Id` (the notification id) and an `sObject` of
`xsi:type="sf:Account"` whose children are the chosen fields (namespace `urn:sobject.enterprise.soap.sforce.com`).
The listener answers `notificationsResponse/Ack` = true; anything else is retried for 24 hours, possibly out of order
and more than once, with the record's latest data.

The XML is parsed with defusedxml: no DTD, no entities, no external references (no XXE, no entity bombs).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from handlers.domain.bounded_json import without_collection
from handlers.domain.field_errors import FieldError
from handlers.intake.crm.mapping import CrmRecord
from handlers.intake.http_bodies import error

MAX_BODY_BYTES = 1024 * 1024  # 100 notifications of an Account's fields fit easily
MAX_NOTIFICATIONS = 100
# Envelope > Body > notifications > Notification > sObject > field: a hundred Accounts of a hundred and fifty fields,
# and room to spare; a body with more is refused before the rest of it is read.
MAX_ELEMENTS = 16_000
MAX_TAG_BYTES = 8192  # an outbound message's tags hold a name and a few namespace declarations
# From a '<', that many bytes without another '<' or '>': each byte is looked at from one '<' only (linear).
_LONG_TAG = re.compile(rb"<[^<>]{%d}" % MAX_TAG_BYTES)
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
_OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15,18}$")  # notification ids are record ids: 15 or 18 characters


@dataclass(frozen=True)
class Notification:
    """One notification of an outbound message: its id (Salesforce's dedupe key) and the Account it carries."""

    notification_id: str
    record: CrmRecord


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _in(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _text(element: Element | None) -> str | None:
    if element is None or element.get(f"{_XSI}nil") == "true":
        return None
    text = (element.text or "").strip()
    return text or None


def _notification(element: Element, organization: str, index: int) -> Notification | FieldError:
    where = f"Notification[{index}]"
    notification_id = _text(_child(element, "Id"))
    sobject = _child(element, "sObject")
    if notification_id is None:
        return error("required", f"{where}.Id is required.", f"{where}.Id")
    if not _SALESFORCE_ID.fullmatch(notification_id):
        return error("not_an_id", f"{where}.Id is not a Salesforce id.", f"{where}.Id")
    if sobject is None:
        return error("required", f"{where}.sObject is required.", f"{where}.sObject")
    kind = sobject.get(f"{_XSI}type") or "Account"
    if kind.rsplit(":", 1)[-1] != "Account":
        return error("unsupported_object", f"{where}.sObject must be an Account.", f"{where}.sObject")
    fields = {_local(c.tag): _text(c) for c in sobject if len(c) == 0}
    record_id = fields.get("Id")
    if record_id is None:
        return error("required", f"{where}.sObject.Id is required.", f"{where}.sObject.Id")
    record = CrmRecord("salesforce", organization, record_id, fields, notification_id)
    return Notification(notification_id, record)


def _envelope(body: bytes) -> Element | FieldError:
    """The body's root element, parsed incrementally and stopped as soon as it holds more elements than an outbound
    message can (so no body up to the route's limit costs more than a real message's worth of elements: tens of
    milliseconds at most). Nesting needs no bound: expat builds the tree without recursion, and nothing here walks
    it recursively."""
    if _LONG_TAG.search(body):  # one tag of tens of thousands of attributes would cost more than a message's worth
        return error("too_large", f"The body holds a tag longer than {MAX_TAG_BYTES} bytes.")
    try:
        events = iterparse(io.BytesIO(body), events=("start",), forbid_dtd=True, forbid_entities=True,
                           forbid_external=True)  # fmt: skip
        with without_collection():
            for count, _ in enumerate(events, start=1):
                if count > MAX_ELEMENTS:
                    return error("too_large", f"The body holds more than {MAX_ELEMENTS} elements.")
        root = events.root  # type: ignore[attr-defined]
    except DefusedXmlException:
        return error("forbidden_xml", "The body declares a DTD, entities or external references.")
    except (ParseError, ValueError, RecursionError):
        return error("not_xml", "The body is not well-formed XML.")
    return root if isinstance(root, Element) else error("not_xml", "The body is not well-formed XML.")


def parse_outbound(body: bytes) -> list[Notification] | list[FieldError]:
    """The notifications of an outbound message, or errors saying why it is not one (never raises)."""
    envelope = _envelope(body)
    if isinstance(envelope, FieldError):
        return [envelope]
    # Namespaces count: a SOAP 1.1 Envelope and Body, and Salesforce's outbound `notifications`, nothing alike.
    soap_body = envelope.find(_in(_ENVELOPE, "Body")) if envelope.tag == _in(_ENVELOPE, "Envelope") else None
    message = soap_body.find(_in(_OUTBOUND, "notifications")) if soap_body is not None else None
    if message is None:
        text = f"The body must be a SOAP 1.1 Envelope whose Body holds a notifications element of {_OUTBOUND}."
        return [error("not_outbound_message", text)]
    organization = _text(message.find(_in(_OUTBOUND, "OrganizationId")))
    if organization is None:
        return [error("required", "OrganizationId is required.", "OrganizationId")]
    elements = message.findall(_in(_OUTBOUND, "Notification"))
    if not 1 <= len(elements) <= MAX_NOTIFICATIONS:
        text = f"A message carries 1 to {MAX_NOTIFICATIONS} notifications."
        return [error("notification_count", text, "Notification")]
    parsed = [_notification(element, organization, i) for i, element in enumerate(elements)]
    errors = [p for p in parsed if isinstance(p, FieldError)]
    return errors if errors else [p for p in parsed if isinstance(p, Notification)]


def ack() -> bytes:
    """The answer Salesforce needs to stop sending the message."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_ENVELOPE}"><soapenv:Body>'
        f'<notificationsResponse xmlns="{_OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def fault(message: str, *, sender: bool) -> bytes:
    """A SOAP 1.1 Fault (sent with HTTP 500): Salesforce shows `faultstring` as the delivery failure reason and
    sends the message again later. `sender` = the message itself is at fault (soapenv:Client)."""
    code = "soapenv:Client" if sender else "soapenv:Server"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{_ENVELOPE}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{escape(message[:4000])}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()
