"""The backfill's reports: every error at once (CSV), each row's outcome (CSV), and one HTML page with the counts
and charts (inline SVG: no script, no CDN, opens offline). Every value from the file is escaped: in the page as HTML,
in the CSV files against formulas (`cell`)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ops.backfill.rows import Row


@dataclass(frozen=True)
class RowOutcome:
    """Where a row's request ended, as the ledger says (or why it was never sent)."""

    state: str  # created, failed, pending, received, creating, invalid
    customer_id: str | None = None
    tenant_id: str | None = None
    domain: str | None = None
    reason: str | None = None
    message: str | None = None


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula (OWASP)


def cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a text that starts like a formula (`=HYPERLINK(…)`, `@SUM(…)`, `-2+3`)
    is prefixed with a single quote, as OWASP's CSV-injection advice says; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _write(writer: Any, values: list[object]) -> None:
    writer.writerow([cell(value) for value in values])


def error_counts(rows: Iterable[Row]) -> Counter[tuple[str, str]]:
    """Errors by (field, rule), over every row."""
    return Counter((e.field or "(message)", e.code) for row in rows for e in row.errors)


def write_errors_csv(rows: list[Row], path: Path) -> None:
    """One line per error: row, requestId, crmAccountId, field, code, message."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "requestId", "crmAccountId", "field", "code", "message"])
        for row in rows:
            for e in row.errors:
                _write(writer, [row.number, row.request_id or "", row.crm_account_id or "", e.field or "", e.code,
                                e.message])  # fmt: skip


def write_outcomes_csv(rows: list[Row], outcomes: Mapping[int, RowOutcome], path: Path) -> None:
    """One line per row: its request and where it ended (customer and tenant, or the reason)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "requestId", "crmAccountId", "state", "customerId", "tenantId", "domain", "reason",
                         "message"])  # fmt: skip
        for row in rows:
            o = outcomes.get(row.number, RowOutcome("invalid" if row.errors else "not sent"))
            _write(writer, [row.number, row.request_id or "", row.crm_account_id or "", o.state, o.customer_id or "",
                            o.tenant_id or "", o.domain or "", o.reason or "", o.message or ""])  # fmt: skip


def bar_chart(
    title: str, bars: list[tuple[str, int]], *, chart_id: str, colour: str = "#c0392b", width: int = 760
) -> str:
    """A horizontal bar chart as inline SVG, each bar labelled and carrying its count in data attributes."""
    if not bars:
        return f'<p class="empty" id="{chart_id}">{escape(title)}: none.</p>'
    top = max(count for _, count in bars)
    label_width, bar_height, gap = 330, 22, 6
    height = len(bars) * (bar_height + gap) + 30
    parts = [f'<svg id="{chart_id}" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>']  # fmt: skip
    for i, (label, count) in enumerate(bars):
        y = 28 + i * (bar_height + gap)
        length = max(2, int((width - label_width - 60) * count / top))
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-count="{count}">'
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{escape(label[:48])}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar_height}" fill="{colour}"/>'
            f'<text x="{label_width + length + 6}" y="{y + 16}">{count}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _counts_table(counts: list[tuple[str, str, int]]) -> str:
    cells = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td data-count="{key}">{value}</td></tr>'
        for key, label, value in counts
    )
    return f'<table class="counts">{cells}</table>'


def write_html(rows: list[Row], outcomes: Mapping[int, RowOutcome] | None, path: Path, *, source: str) -> None:
    """The report page: counts, errors by field and rule, outcomes by state and reason, the bad rows."""
    invalid = [r for r in rows if r.errors]
    errors = error_counts(rows)
    counts = [("rows", "Rows", len(rows)), ("valid", "Valid", len(rows) - len(invalid)),
              ("invalid", "Invalid (not sent)", len(invalid)), ("errors", "Errors", sum(errors.values()))]  # fmt: skip
    sections = [bar_chart("Errors by field and rule", [(f"{f} · {c}", n) for (f, c), n in errors.most_common(25)],
                          chart_id="errors-chart")]  # fmt: skip
    if outcomes is not None:
        states = Counter(o.state if o.state != "failed" else f"failed: {o.reason}" for o in outcomes.values())
        for state in ("created", "pending"):
            counts.append((state, state.capitalize(), states.get(state, 0)))
        failed = sum(n for s, n in states.items() if s.startswith("failed"))
        counts.append(("failed", "Failed", failed))
        outcome_bars = sorted(states.items(), key=lambda kv: -kv[1])
        sections.append(bar_chart("Outcomes", outcome_bars, chart_id="outcomes-chart", colour="#2e7d32"))
    lines = "".join(
        f"<tr><td>{row.number}</td><td>{escape(row.request_id or '')}</td><td>{escape(e.field or '')}</td>"
        f"<td>{escape(e.code)}</td><td>{escape(e.message)}</td></tr>"
        for row in invalid[:500]
        for e in row.errors
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Backfill report: {escape(source)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}} svg text{{font-size:13px}}</style></head>
<body><h1>Backfill report</h1><p>File: <code>{escape(source)}</code></p>
{_counts_table(counts)}
{"".join(sections)}
<h2>Rows not sent ({len(invalid)})</h2>
<table class="invalid"><tr><th>row</th><th>requestId</th><th>field</th><th>rule</th><th>message</th></tr>{lines}</table>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
