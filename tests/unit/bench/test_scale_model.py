"""The scale model (docs/behaviour.md, "Scale"): the whole app shares Partner Center's per-tenant quota, so host.json's
concurrency is sized for a lone instance to use the whole quota, and the deployment's instance count never enters the
budget (more instances share it through the storage account; backpressure sends back what they cannot serve)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from devhost.hostjson import load_queue_options
from handlers.domain.timing import load_timing

ROOT = Path(__file__).resolve().parents[3]
QUOTA = 500  # Partner Center's Customer calls per minute per partner tenant (partner-center.md)
CALLS_PER_REQUEST = 3  # domain check, address check, create; country rules are cached
WORK_SECONDS = 5.0  # one request's own work at Partner Center's latency: pre-flight round, create, writes, publish


def default_instances() -> int:
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    match = re.fullmatch(r"\$\{MAXIMUM_INSTANCE_COUNT=(\d+)\}", parameters["maximumInstanceCount"]["value"])
    assert match, "maximumInstanceCount comes from azd's MAXIMUM_INSTANCE_COUNT with a default"
    bicep_default = re.search(r"param maximumInstanceCount int = (\d+)", (ROOT / "infra" / "main.bicep").read_text())
    assert bicep_default and bicep_default.group(1) == match.group(1)
    return int(match.group(1))


def test_every_instance_is_given_the_whole_quota_whatever_the_instance_count() -> None:
    assert default_instances() == 40  # the lowest maximum Flex Consumption accepts in every region
    bicep = (ROOT / "infra" / "app" / "function-app.bicep").read_text()
    assert "PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE: string(partnerCenterMaxRequestsPerMinute)" in bicep
    assert "maximumInstanceCount)" not in bicep.split("PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE")[1].split("\n")[0]


def test_host_json_keeps_enough_in_flight_to_use_the_quota_and_few_enough_to_wait_briefly() -> None:
    options = load_queue_options(ROOT / "host.json", env={})
    in_flight = options.batch_size + options.new_batch_threshold
    timing = load_timing(ROOT / "host.json", env={})
    per_second = QUOTA / 60 / CALLS_PER_REQUEST  # a lone instance: the whole quota
    assert in_flight >= per_second * WORK_SECONDS, "too few in flight: quota slots go unused"
    assert in_flight / per_second <= timing.invocation_timeout / 2, "too many: requests wait long for pacer slots"
