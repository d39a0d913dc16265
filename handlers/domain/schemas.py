"""JSON Schemas of the contract, exported for integrators: python -m handlers.domain.schemas [folder]."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from handlers.domain.events import (
    AGREEMENT_CONFIRMED,
    AGREEMENT_FAILED,
    CONSENT_REQUIRED,
    CREATED,
    FAILED,
    AgreementConfirmedData,
    AgreementFailedData,
    CloudEvent,
    ConsentRequiredData,
    CreatedData,
    FailedData,
)
from handlers.domain.request import CustomerRequest

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


_DATA_MODELS = (CreatedData, FailedData, AgreementConfirmedData, AgreementFailedData, ConsentRequiredData)


def _event_schema(title: str, event_type: str, data_model: type[BaseModel]) -> dict[str, Any]:
    schema = CloudEvent.model_json_schema()
    defs = schema.setdefault("$defs", {})
    for other in _DATA_MODELS:  # the envelope's union names every data model: keep only this event's
        defs.pop(other.__name__, None)
    defs.update(data_model.model_json_schema().get("$defs", {}))
    data_schema = {k: v for k, v in data_model.model_json_schema().items() if k != "$defs"}
    defs[data_model.__name__] = data_schema
    schema["properties"]["data"] = {"$ref": f"#/$defs/{data_model.__name__}"}
    schema["properties"]["type"] = {"const": event_type, "type": "string"}
    schema["title"] = title
    _drop_unreferenced(defs, schema)
    return schema


def _drop_unreferenced(defs: dict[str, Any], schema: dict[str, Any]) -> None:
    """Remove definitions nothing refers to (the envelope's union brought in every event's)."""
    while unused := [
        name
        for name in defs
        if f'"#/$defs/{name}"' not in json.dumps({**schema, "$defs": {k: v for k, v in defs.items() if k != name}})
    ]:
        for name in unused:
            del defs[name]


def contract_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema (draft 2020-12) for the request and both events."""
    request = CustomerRequest.model_json_schema()
    request["title"] = "Customer request (queue message), schemaVersion 1.x"
    return {
        "customer-request.schema.json": request,
        "customer-created.event.schema.json": _event_schema(CREATED, CREATED, CreatedData),
        "customer-failed.event.schema.json": _event_schema(FAILED, FAILED, FailedData),
        "agreement-confirmed.event.schema.json": _event_schema(
            AGREEMENT_CONFIRMED, AGREEMENT_CONFIRMED, AgreementConfirmedData
        ),
        "agreement-failed.event.schema.json": _event_schema(AGREEMENT_FAILED, AGREEMENT_FAILED, AgreementFailedData),
        "consent-required.event.schema.json": _event_schema(CONSENT_REQUIRED, CONSENT_REQUIRED, ConsentRequiredData),
    }


def render(schema: dict[str, Any]) -> str:
    """The committed text of a schema."""
    return json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}, indent=2) + "\n"


def main(folder: Path = SCHEMA_DIR) -> None:
    """Write every schema into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in contract_schemas().items():
        (folder / name).write_text(render(schema), encoding="utf-8")
        print(f"wrote {folder / name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR)
