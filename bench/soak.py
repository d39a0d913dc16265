"""Chaos soak: N requests through Azurite → local host → function → emulator, with seeded faults, the faults
reality adds (storage answers lost after commit, listing lag, replays without the password, the same request
delivered twice at once) and the host killed (SIGKILL) and restarted mid-run. Reports whether every request got
exactly one customer and one kind of outcome.

    .venv/bin/python -m bench.soak --requests 1000 --kills 2
    .venv/bin/python -m bench.soak --requests 300 --paced      # the pace a backlog drains at, default budget
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from bench.soak_figures import DEFAULT_BUDGET_PER_MINUTE, SoakReport, count_outcomes, measure_pace
from devhost.hostjson import timing_overrides
from devhost.stack import QUEUE, Stack

PARTNER_CENTER = "customers.create,domains.head,address.validate,rules.get"
AGREEMENTS = "agreements.list,agreements.create"
MCA_SHARE = 0.2  # requests carrying customer.mcaAcceptance (issue 16)
_NAMES = {PARTNER_CENTER: "partner-center", AGREEMENTS: "agreements"}


def _fault_name(fault: dict[str, Any]) -> str:
    name = f"{_NAMES.get(fault['target'], fault['target'])}:{fault['kind']}"
    return f"{name}:first{fault['times']}" if fault.get("probability", 1.0) >= 1.0 and fault.get("times") else name


# The soak's timing, in one place: local-host arguments and app settings. (The real host also takes host.json's
# values from app settings such as AzureFunctionsJobHost__extensions__queues__visibilityTimeout.)
TIMING: dict[str, dict[str, Any]] = {
    # Redeliveries 5 s apart: invocations of 15 s, claims of 17.5 s (handlers/domain/timing.py); a message received by a
    # killed host is visible again after 30 s, when its claim has run out.
    "chaos": {
        "host_args": ["--max-polling-interval", "0.2", "--lease-seconds", "30"],
        "env": timing_overrides(visibility_timeout=5),
    },
    "paced": {"host_args": ["--max-polling-interval", "0.2"], "env": {}},  # host.json's timing, as deployed
}


@dataclass(frozen=True)
class Mix:
    """What the soak adds to the classic fault mix (chaos_faults)."""

    storage_drops_after_commit: float = 0.0  # share of Table writes whose answer the proxy drops after commit
    listing_lag_seconds: float = 0.0  # a new customer is missing from Partner Center's reads this long
    replay_without_credentials: bool = False  # an idempotent replay answers without the admin password
    delivered_twice: float = 0.0  # share of requests enqueued twice back to back (same body)


CLASSIC = Mix()
REALITY = Mix(
    storage_drops_after_commit=0.03, listing_lag_seconds=20, replay_without_credentials=True, delivered_twice=0.1
)
MIXES = {"reality": REALITY, "classic": CLASSIC}


def chaos_faults(seed: int) -> list[dict[str, Any]]:
    """The issue's fault mix: 10% 429 with Retry-After, 5% 503, 3% commit-then-drop, 2% Event Grid 500."""
    return [
        {"target": PARTNER_CENTER, "kind": "throttle", "retryAfter": 1, "probability": 0.10, "times": None},
        {"target": PARTNER_CENTER, "kind": "status", "status": 503, "probability": 0.05, "times": None},
        {"target": "customers.create", "kind": "commit_drop", "probability": 0.03, "times": None},
        {"target": "events.publish", "kind": "status", "status": 500, "probability": 0.02, "times": None},
        # The MCA attestation's endpoints (App+User): the same throttling and outages, and a lost answer after the
        # attestation committed (the retry meets 600061). The first two attestations fail for sure, so every soak
        # exercises the retry of the attestation alone, however few MCA requests it draws.
        {"target": "agreements.create", "kind": "status", "status": 503, "times": 2},
        {"target": AGREEMENTS, "kind": "throttle", "retryAfter": 1, "probability": 0.10, "times": None},
        {"target": AGREEMENTS, "kind": "status", "status": 503, "probability": 0.05, "times": None},
        {"target": "agreements.create", "kind": "commit_drop", "probability": 0.05, "times": None},
    ]


def request(index: int, run: str, *, mca: bool = False) -> dict[str, Any]:
    """A valid Swedish request, unique per index; with `mca`, the customer accepted the MCA."""
    body: dict[str, Any] = {
        "schemaVersion": "1.0",
        "requestId": f"soak-{run}-{index:05d}",
        "crmAccountId": f"ACC-SOAK-{index:05d}",
        "correlationId": f"{run}{index:05d}",
        "customer": {
            "companyName": f"Soak Test {index} AB",
            "domainPrefix": f"soak{run}{index:05d}",
            "email": f"it{index}@soak.example",
            "culture": "sv-SE",
            "language": "sv",
            "address": {
                "firstName": "Astrid", "lastName": "Lindqvist", "addressLine1": "Drottninggatan 1",
                "city": "Stockholm", "postalCode": "111 51", "country": "SE", "phoneNumber": "+46 8 123 456",
            },
        },
    }  # fmt: skip
    if mca:
        body["customer"]["mcaAcceptance"] = {
            "primaryContact": {"firstName": "Astrid", "lastName": "Lindqvist", "email": f"ceo{index}@soak.example"},
            "dateAgreed": "2026-01-15T09:30:00Z",
        }
    return body


def new_stack(mix: Mix, *, paced: bool) -> Stack:
    timing = TIMING["paced" if paced else "chaos"]
    budget = {} if paced else {"PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE": "100000"}  # chaos: correctness, not quota
    return Stack(
        host_args=list(timing["host_args"]),
        extra_env={**timing["env"], **budget},
        table_proxy=mix.storage_drops_after_commit > 0,
        app_user=True,
    )


def inject(stack: Stack, mix: Mix, seed: int, *, paced: bool) -> None:
    """Reset the emulator and switch this run's faults on."""
    stack.admin("POST", "reset")
    if stack.app_user:
        stack.consent()  # the reset emptied the vault
    stack.admin("DELETE", f"faults?seed={seed}")
    stack.admin("POST", "faults", chaos_faults(seed))
    stack.admin(
        "POST",
        "behaviour",
        {"listingLagSeconds": mix.listing_lag_seconds, "replayWithoutCredentials": mix.replay_without_credentials},
    )
    if mix.storage_drops_after_commit > 0:
        if not stack.table_proxy:
            raise ValueError("storage drops need the table proxy: Stack(table_proxy=True)")
        faults = {"dropAfterCommit": mix.storage_drops_after_commit, "times": None, "seed": seed}
        stack.admin("POST", "storage-faults", faults)
    if paced:  # Partner Center's own limit, as the pacer meets it in production
        stack.admin("POST", "ratelimit", {"perMinute": DEFAULT_BUDGET_PER_MINUTE})


def enqueue(stack: Stack, bodies: list[str], twice: set[int]) -> None:
    """Send every body; those in `twice` a second time right after the first (the same request, at once)."""
    queue = stack.queue()

    def send(index: int) -> None:
        for _ in range(2 if index in twice else 1):
            queue.send_message(bodies[index])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(len(bodies))))


def messages_left(stack: Stack) -> int:
    """Messages (visible or not) still in the request queue and its poison queue."""
    queues = (stack.queue(), stack.queue(f"{QUEUE}-poison"))
    return sum(q.get_queue_properties().approximate_message_count or 0 for q in queues)


def run_soak(
    requests: int = 1000,
    *,
    kills: int = 2,
    seed: int = 7,
    timeout: float = 1800.0,
    stack: Stack | None = None,
    mix: Mix = REALITY,
    paced: bool = False,
) -> SoakReport:
    """Run the soak on a new stack (or a given one) and count what happened. `paced`: pacing at the default budget
    and Partner Center's limit on, the classic faults only; the host starts once the backlog is queued."""
    mix = CLASSIC if paced else mix
    own = stack is None
    stack = stack or new_stack(mix, paced=paced).start(host=not paced)
    run = f"{seed:02d}{int(time.time()) % 10000:04d}"
    try:
        inject(stack, mix, seed, paced=paced)
        draw = random.Random(seed)
        mca = {i for i in range(requests) if stack.app_user and draw.random() < MCA_SHARE}
        bodies = [json.dumps(request(i, run, mca=i in mca)) for i in range(requests)]
        twice = {i for i in range(requests) if draw.random() < mix.delivered_twice}
        if paced:
            stack.kill_host()
        started = time.monotonic()
        enqueue(stack, bodies, twice)
        if paced:
            stack.start_host()
        wanted = {f"soak-{run}-{i:05d}" for i in range(requests)}
        wanted_mca = {f"soak-{run}-{i:05d}" for i in mca}
        deadline = started + timeout
        killed = wait_for_outcomes(stack, wanted, kills, deadline, mca=wanted_mca)
        while messages_left(stack) and time.monotonic() < deadline:  # stray redeliveries may still say more
            time.sleep(1)
        time.sleep(2)
        wall = time.monotonic() - started
        state = stack.admin("GET", "state")
        outcomes = count_outcomes(
            wanted, stack.events(), stack.admin("GET", "customers"), mca=wanted_mca,
            agreements=stack.admin("GET", "agreements"),
        )  # fmt: skip
        fired = {_fault_name(f): f["fired"] for f in state["faults"]}
        fired["storage:drop_after_commit"] = state["counters"].get("storage_drops_after_commit", 0)
        return SoakReport(
            **asdict(outcomes),
            requests=requests,
            delivered_twice=len(twice),
            host_kills=killed,
            messages_left=messages_left(stack),
            faults_fired=fired,
            wall_seconds=round(wall, 1),
            pace=measure_pace(stack.admin("GET", "calls")) if paced else None,
        )
    finally:
        stack.admin("DELETE", "faults")
        stack.admin("POST", "behaviour", {"listingLagSeconds": 0, "replayWithoutCredentials": False})
        stack.admin("DELETE", "storage-faults")
        if paced:
            stack.admin("POST", "ratelimit", {"perMinute": None})
        if own:
            stack.stop()


def wait_for_outcomes(
    stack: Stack, wanted: set[str], kills: int, deadline: float, *, mca: set[str] | frozenset[str] = frozenset()
) -> int:
    """Poll until every wanted request has an outcome (an MCA request: also its agreement.* outcome) or the deadline
    passes, killing and restarting the host at `kills` points spread evenly over the outcomes. Returns how many
    kills happened."""
    kill_at = [len(wanted) * (k + 1) // (kills + 1) for k in range(kills)]
    killed = 0
    while True:
        events = stack.events()
        attested = {e["data"]["requestId"] for e in events if e["type"].startswith("csp.onboarding.agreement.")}
        answered = {e["data"]["requestId"] for e in events if e["type"].startswith("csp.onboarding.customer.")}
        answered = (answered & wanted) - (mca - attested)
        if killed < kills and len(answered) >= kill_at[killed]:
            stack.kill_host()
            killed += 1
            print(f"killed the host at {len(answered)} outcomes; restarting", file=sys.stderr, flush=True)
            stack.start_host()
        if answered >= wanted or time.monotonic() > deadline:
            return killed
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--kills", type=int, help="host kills (default 2; 0 with --paced)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mix", choices=sorted(MIXES), default="reality", help="reality adds to the classic faults")
    parser.add_argument("--paced", action="store_true", help="pacing on at the default budget, classic faults")
    parser.add_argument("--timeout", type=float, help="seconds before it stops counting (default: by mode and N)")
    args = parser.parse_args()
    kills = args.kills if args.kills is not None else (0 if args.paced else 2)
    # Paced: ~4 Partner Center calls a request at the budget, with room to drain at a quarter of it.
    timeout = args.timeout or (600 + args.requests * 4 / (DEFAULT_BUDGET_PER_MINUTE / 4) * 60 if args.paced else 1800)
    report = run_soak(
        args.requests, kills=kills, seed=args.seed, timeout=timeout, mix=MIXES[args.mix], paced=args.paced
    )
    print(json.dumps({**asdict(report), "exactly_once": report.exactly_once}, indent=2))
    return 0 if report.exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
