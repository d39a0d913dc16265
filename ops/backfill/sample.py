"""A demo backfill file: N §1 requests as CSV (dotted column names), a share of them broken in known ways.

python -m ops.backfill.sample OUT.csv --rows 2000 --bad 0.05 [--tag run1]
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

COLUMNS = [
    "schemaVersion", "requestId", "crmAccountId", "customer.companyName", "customer.domainPrefix", "customer.email",
    "customer.culture", "customer.language", "customer.organizationRegistrationNumber", "customer.address.firstName",
    "customer.address.lastName", "customer.address.addressLine1", "customer.address.city",
    "customer.address.postalCode", "customer.address.country", "customer.address.phoneNumber",
]  # fmt: skip
_COUNTRIES = [
    ("SE", "sv-SE", "sv", "Stockholm", "111 51", None),
    ("NL", "nl-NL", "nl", "Utrecht", "3511 AB", None),
    ("TR", "tr-TR", "tr", "İzmir", "35210", "1234567890"),
]
# How a bad row is broken: the column and the value that breaks it (None: left empty).
BREAKS = [
    ("customer.address.city", None),
    ("customer.address.country", "UK"),
    ("customer.email", "not-an-address"),
    ("customer.domainPrefix", "has-hyphens"),
    ("customer.language", "swedish"),
]


def make_rows(count: int, bad_share: float, *, tag: str = "bf", seed: int = 17) -> list[dict[str, str]]:
    """`count` rows; `round(count * bad_share)` of them (spread evenly) broken one way each."""
    rng = random.Random(seed)
    bad_every = round(1 / bad_share) if bad_share > 0 else 0
    rows = []
    for i in range(count):
        country, culture, language, city, postal, registration = _COUNTRIES[i % len(_COUNTRIES)]
        row = {
            "schemaVersion": "1.0", "requestId": f"{tag}-{i:05d}", "crmAccountId": f"ACC-{tag}-{i:05d}",
            "customer.companyName": f"Backfill {tag} {i:05d} AB", "customer.domainPrefix": f"{tag}bf{i:05d}",
            "customer.email": f"it{i}@example.com", "customer.culture": culture, "customer.language": language,
            "customer.organizationRegistrationNumber": registration or "", "customer.address.firstName": "Kim",
            "customer.address.lastName": rng.choice(["Berg", "de Vries", "Yılmaz"]),
            "customer.address.addressLine1": f"Storgatan {i % 90 + 1}", "customer.address.city": city,
            "customer.address.postalCode": postal, "customer.address.country": country,
            "customer.address.phoneNumber": "+46 8 555 0100",
        }  # fmt: skip
        if bad_every and i % bad_every == bad_every - 1:
            column, value = BREAKS[(i // bad_every) % len(BREAKS)]
            row[column] = value or ""
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """The rows as a CSV file with the §1 paths as column names."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ops.backfill.sample", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--bad", type=float, default=0.05)
    parser.add_argument("--tag", default="bf")
    args = parser.parse_args()
    write_csv(args.out, make_rows(args.rows, args.bad, tag=args.tag))


if __name__ == "__main__":
    main()
