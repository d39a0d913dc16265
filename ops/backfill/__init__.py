"""Bulk backfill: validate a CRM export offline, optionally pre-flight it, enqueue it once, follow the outcomes.

python -m ops.backfill FILE [--format auto|request|dataverse|salesforce] [--preflight] [--timeout 600]
"""
