"""python -m ops.doctor: a first-run check of a deployment, as the operator who runs it. It signs in, then checks the
settings the app runs with, the queues and tables, the vaults and the topic it can reach, the Partner Center
credential where this machine holds it, App+User, and the roles the operator commands need; what is missing is said
with what to do. It changes nothing.

    eval "$(azd env get-values)"          # the deployment's names, ids and URLs
    python -m ops.doctor                  # storage from CUSTOMER_REQUESTS_QUEUE_URL, settings from the environment
    az functionapp config appsettings list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" -o json > app.json
    python -m ops.doctor --settings app.json      # the settings the app itself runs with

Exit status: 0 nothing missing, 1 something to do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops.doctor import checks
from ops.doctor.settings import check, gather
from ops.roles import add_role_arguments, needs, report
from ops.storage import INTAKE_DEFAULT, LEDGER_DEFAULT, add_storage_arguments, storage_from
from ops.terminal import shown


def _arguments() -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(
        prog="python -m ops.doctor", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_storage_arguments(parser)
    parser.add_argument("--settings", type=Path, help="the app's settings (az … appsettings list -o json), or a .env")
    add_role_arguments(parser)
    return parser.parse_args(), parser


def main() -> int:
    args, parser = _arguments()
    values, where = gather(args.settings)
    settings, problems = check(values)
    storage = storage_from(args, parser)
    print(f"python -m ops.doctor: {storage.where}")
    findings: list[checks.Finding] = []
    try:
        if storage.credential is not None:
            findings.append(checks.signed_in(storage))
        if problems:
            findings.append(checks.Finding("settings", checks.MISSING, f"from {where}: " + "; ".join(problems)))
        else:
            findings.append(checks.Finding("settings", checks.OK, f"from {where}: the function would start with them"))
        queue = values.get("CUSTOMER_REQUESTS_QUEUE") or args.queue
        ledger = values.get("ONBOARDING_LEDGER_TABLE") or LEDGER_DEFAULT
        intake = values.get("ONBOARDING_INTAKE_TABLE") or INTAKE_DEFAULT
        findings += [checks.queue(storage, name) for name in (queue, f"{queue}-poison", f"{queue}-exhausted")]
        findings += [checks.table(storage, ledger), checks.table(storage, intake)]
        findings += _services(values)
        if settings is not None:
            findings += [checks.partner_center(settings), checks.app_user(settings)]
        print("\n".join(f.line() for f in findings), flush=True)
        secret_url = values.get("PARTNER_CENTER_USER_TOKEN_SECRET_URL") or None
        wanted = needs("doctor", queue, ledger, intake)
        if not secret_url:
            wanted = [need for need in wanted if need.kind != "vault"]  # App+User off: no sign-in to store
        missing: list[str] = []
        verdict = report(wanted, args, storage=storage, secret_url=secret_url, missing=missing)
    finally:
        storage.close()
    text, status = checks.summary(findings, missing, verdict)
    print(text)
    return status


def _services(values: dict[str, str]) -> list[checks.Finding]:
    """The vaults and the topic: there, and reachable from here."""
    found = []
    passwords = values.get("ADMIN_CREDENTIALS_VAULT_URL")
    if passwords:
        url = f"{passwords.rstrip('/')}/secrets/ops-doctor?api-version=7.4"
        found.append(checks.reachable("vault", url, label=f"admin-password vault {shown(passwords)}"))
    else:
        found.append(
            checks.Finding("vault", checks.NOTE, "no ADMIN_CREDENTIALS_VAULT_URL: admin passwords are dropped")
        )
    secret = values.get("PARTNER_CENTER_USER_TOKEN_SECRET_URL")
    if secret:
        found.append(checks.reachable("vault", f"{secret}?api-version=7.4", label="App+User token vault"))
    topic = values.get("EVENTS_TOPIC_ENDPOINT")
    if topic:
        found.append(checks.reachable("topic", topic, method="POST", label=f"topic {shown(topic)}"))
    return found


if __name__ == "__main__":
    sys.exit(main())
