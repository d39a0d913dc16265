"""Reading a backfill file into requests: CSV or JSON Lines, of §1 requests or of a CRM export (Dataverse
`account` attributes or Salesforce `Account` fields, mapped through the §6 field map)."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from handlers.api import (
    CrmName,
    CrmRecord,
    CustomerRequest,
    FieldError,
    FieldMap,
    InvalidRequest,
    map_record,
    parse_message,
    record_key,
)

Format = Literal["auto", "request", "dataverse", "salesforce"]
FORMATS: tuple[Format, ...] = ("auto", "request", "dataverse", "salesforce")


@dataclass
class Row:
    """One row of the file and what became of it so far."""

    number: int  # 1 = the first data row
    request: CustomerRequest | None = None
    errors: list[FieldError] = field(default_factory=list)
    request_id: str | None = None
    crm_account_id: str | None = None
    record_key: str | None = None  # a CRM record's intake guard: one record, one customer

    @property
    def valid(self) -> bool:
        return self.request is not None and not self.errors


def _items(path: Path) -> tuple[list[str], Iterator[dict[str, Any] | FieldError]]:
    """The file's column names (CSV) or top-level keys seen first (JSON Lines), and its items."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        lines = [line for line in text.splitlines() if line.strip()]

        def items() -> Iterator[dict[str, Any] | FieldError]:
            for line in lines:
                try:
                    item = json.loads(line)
                except (ValueError, RecursionError):
                    yield FieldError(field=None, code="not_json", message="The line is not valid JSON.")
                    continue
                is_object = isinstance(item, dict)
                yield item if is_object else FieldError(field=None, code="not_an_object", message="Not an object.")

        first: Any = {}
        if lines:
            with contextlib.suppress(ValueError, RecursionError):
                first = json.loads(lines[0])
        return list(first) if isinstance(first, dict) else [], items()
    reader = csv.DictReader(text.splitlines())
    columns = list(reader.fieldnames or [])
    return columns, ({k: v for k, v in row.items() if k is not None} for row in reader)


def detect(columns: list[str], field_map: FieldMap) -> Format | None:
    """Which kind of file this is, from its columns: §1 paths, or a CRM's names for the company and the record."""
    if "customer" in columns or "customer.companyName" in columns:
        return "request"
    crms: tuple[CrmName, ...] = ("dataverse", "salesforce")
    for crm in crms:
        names = field_map.for_crm(crm)
        if names.get("customer.companyName") in columns and names.get("crmAccountId") in columns:
            return crm
    return None


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """A CSV row of dotted §1 paths as the nested request; empty cells are left out."""
    data: dict[str, Any] = {}
    for path, value in flat.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if path.endswith("enableGdapByDefault") and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        *parents, leaf = path.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = value
    return data


def _request_row(number: int, item: dict[str, Any], flat: bool) -> Row:
    data = _nested(item) if flat else item
    parsed = parse_message(json.dumps(data, ensure_ascii=False).encode("utf-8"))
    if isinstance(parsed, InvalidRequest):
        return Row(number, None, parsed.errors, parsed.request_id, parsed.crm_account_id)
    return Row(number, parsed, [], parsed.requestId, parsed.crmAccountId)


def _crm_row(number: int, item: dict[str, Any], crm: CrmName, field_map: FieldMap, organization: str) -> Row:
    id_column = field_map.for_crm(crm).get("crmAccountId", "Id" if crm == "salesforce" else "accountid")
    record_id = str(item.get(id_column) or "").strip()
    if not record_id:
        error = FieldError(field=id_column, code="required", message=f"{id_column} is required.")
        return Row(number, errors=[error])
    record = CrmRecord(crm, organization, record_id, item)
    mapped = map_record(record, field_map)
    if isinstance(mapped, list):
        return Row(number, None, mapped, None, record_id, record_key(record))
    return Row(number, mapped, [], mapped.requestId, mapped.crmAccountId, record_key(record))


def read_rows(path: Path, fmt: Format, field_map: FieldMap, organization: str) -> tuple[Format, list[Row]]:
    """Every row of the file, each a request or its errors; raises ValueError when the kind cannot be told."""
    columns, items = _items(path)
    kind = detect(columns, field_map) if fmt == "auto" else fmt
    if kind is None or kind == "auto":
        raise ValueError("cannot tell the file's kind from its columns: pass --format request|dataverse|salesforce")
    rows: list[Row] = []
    seen: dict[str, int] = {}
    flat = any("." in c for c in columns)
    for number, item in enumerate(items, start=1):
        if isinstance(item, FieldError):
            rows.append(Row(number, errors=[item]))
            continue
        row = _request_row(number, item, flat) if kind == "request" else _crm_row(number, item, kind, field_map,
                                                                                   organization)  # fmt: skip
        if row.request_id is not None and row.valid:
            if row.request_id in seen:
                text = f"requestId is also on row {seen[row.request_id]}: each row needs its own."
                row.errors.append(FieldError(field="requestId", code="duplicate_request_id", message=text))
            seen.setdefault(row.request_id, number)
        rows.append(row)
    return kind, rows
