"""Fuzzing by hand, longer than the property tests: 100,000 seeded cases through parse_message and every Partner
Center answer parser, with the oracles of tests/fuzz_checks.py, and one case in fifty an adversarial body up to its
route's limit (bench/adversarial.py). Every case is timed (process CPU time); the slowest is reported with its shape.
The garbage collector runs between cases, not inside one (as `timeit` does): a collection of what 100,000 cases left
behind costs tens of milliseconds and would be charged to whichever case happened to trigger it.
Prints the counts (issue 14 asks for 0 and 0; issue 21 for the slowest case under 50 ms).

    .venv/bin/python -m bench.fuzz                 # 100,000 cases, half messages, half Partner Center answers
    .venv/bin/python -m bench.fuzz --cases 20000 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
from collections import Counter
from typing import Any

from bench.adversarial import adversarial_body, read
from tests.fakes import sample
from tests.fuzz_checks import METHODS, PLANTED, PLANTED_NUMBER, answer_problems, message_problems

HOSTILE = ["\ud83d", "\udfff", "\x00", "\x07", "\x1b[2J", "\r\nX-Injected: yes", "\u200b", "\u202e", "\u2028", " ", ""]
RAW = ["9" * 4400, "-" + "9" * 4301, "[" * 40 + "]" * 40, '{"a":' * 40 + "1" + "}" * 40, "1e999", "NaN", '"\\ud800"']
STATUSES = [200, 201, 204, 400, 401, 403, 404, 405, 408, 409, 429, 500, 501, 503]
RETRY_AFTERS = ["1", "0", "-5", "86400", "inf", "nan", "1e400", "soon", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 32 Foo"]
SAMPLES = [sample("se-wingtip-toys"), sample("tr-anadolu-oyuncak"), sample("nl-fietsfabriek")]


def text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(HOSTILE)
    if roll < 0.6:  # any code point, surrogates included
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(12)))
    if roll < 0.8:
        return "".join(chr(rng.randrange(0x20, 0x7F)) for _ in range(rng.randrange(40)))
    return rng.choice(["x", "SE", "sp", "it@example.com", "1.0"]) + rng.choice(HOSTILE)


def value(rng: random.Random, depth: int = 0, *, planted: bool = True) -> Any:
    """Any JSON value; with `planted`, the password may be anywhere in it (not in the texts of an error body,
    which Partner Center writes and this project passes on: it never holds the password)."""
    roll = rng.random()
    if depth < 3 and roll < 0.15:
        return [value(rng, depth + 1, planted=planted) for _ in range(rng.randrange(4))]
    if depth < 3 and roll < 0.3:
        return {text(rng): value(rng, depth + 1, planted=planted) for _ in range(rng.randrange(4))}
    leaves = [None, True, rng.randrange(-(10**20), 10**20), rng.random() * 1e6, text(rng)]
    return rng.choice([*leaves, PLANTED, PLANTED_NUMBER] if planted else leaves)


def paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(data, dict):
        return [prefix]
    return [prefix, *(p for k, v in data.items() for p in paths(v, (*prefix, k)))]


def a_message(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return rng.randbytes(rng.randrange(300))
    if roll < 0.2:
        return json.dumps(value(rng)).encode()
    request = json.loads(json.dumps(rng.choice(SAMPLES)))
    for _ in range(rng.randrange(1, 4)):  # one to three fields replaced
        path = rng.choice([p for p in paths(request) if p])
        target = request
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value(rng) if rng.random() < 0.5 else text(rng)
    encoded = json.dumps(request, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    if roll < 0.35:  # raw JSON no encoder writes
        encoded = encoded.replace(b'"ACC', rng.choice(RAW).encode() + b', "x": "ACC', 1)
    elif roll < 0.45:  # cut short or bit-flipped
        cut = rng.randrange(len(encoded))
        encoded = encoded[:cut] if rng.random() < 0.5 else encoded[:cut] + bytes([rng.randrange(256)]) + encoded[cut:]
    return encoded


def a_customer(rng: random.Random) -> dict[str, Any]:
    customer: dict[str, Any] = {}
    for key, choices in (
        ("id", ["c-1", 7, None, {"password": PLANTED}, value(rng, planted=False)]),
        ("companyProfile", [{"domain": "x.onmicrosoft.com"}, PLANTED, value(rng)]),
        ("userCredentials", [{"userName": "admin", "password": rng.choice([PLANTED, PLANTED_NUMBER, [PLANTED]])},
                             f"admin:{PLANTED}", value(rng)]),
    ):  # fmt: skip
        if rng.random() < 0.8:
            customer[key] = rng.choice(choices)
    return customer


def an_answer(rng: random.Random) -> tuple[str, int, list[tuple[bytes, bytes]], bytes]:
    status = rng.choice(STATUSES) if rng.random() < 0.8 else rng.randrange(200, 600)
    headers = [(b"Content-Type", b"application/json")]
    if rng.random() < 0.5:
        raw = rng.choice(RETRY_AFTERS).encode() if rng.random() < 0.7 else rng.randbytes(rng.randrange(12))
        headers.append((b"Retry-After", raw.replace(b"\r", b"").replace(b"\n", b"")))
    roll = rng.random()
    if roll < 0.1:
        body = rng.randbytes(rng.randrange(200))
    else:
        data: Any = (
            a_customer(rng) if roll < 0.45
            else {"items": [a_customer(rng) for _ in range(rng.randrange(3))]} if roll < 0.6
            else {"status": rng.choice(["VerifiedShippable", "None", value(rng, planted=False)]),
                  "userCredentials": a_customer(rng)}
            if roll < 0.75
            else {"code": value(rng, planted=False), "description": value(rng, planted=False),
                  "errorName": value(rng, planted=False), "data": [a_customer(rng)]} if roll < 0.9
            else value(rng)
        )  # fmt: skip
        body = json.dumps(data).encode("utf-8", "surrogatepass")
    return rng.choice(METHODS), status, headers, body


def _read_problems(route: str, body: bytes) -> list[str]:
    """An adversarial body must be answered (a value, errors, a refusal), never raise."""
    try:
        read(route, body)
    except Exception as exc:
        return [f"the {route} reader raised {type(exc).__name__}"]
    return []


async def _timed_case(
    case: int, rng: random.Random, problems: Counter[str], examples: dict[str, str]
) -> tuple[float, str]:
    """Run case `case` (its input drawn from `rng`), count what it found; its CPU time and what it was."""
    began = time.process_time()
    if case % 50 == 49:
        route, shape, body = adversarial_body(rng)
        found = _read_problems(route, body)
        what = f"{route}: {shape} ({len(body)} bytes)"
    elif case % 2 == 0:
        found = message_problems(a_message(rng))
        what = "a fuzzed message"
    else:
        found = await answer_problems(*an_answer(rng))
        what = "a fuzzed Partner Center answer"
    spent = time.process_time() - began
    for problem in found:
        problems[problem] += 1
        examples.setdefault(problem, f"case {case}")
    return spent, f"case {case}, {what}"


async def run(cases: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    problems: Counter[str] = Counter()
    examples: dict[str, str] = {}
    started = time.perf_counter()
    slowest: tuple[float, str] = (0.0, "")
    gc.disable()
    try:
        for case in range(cases):
            if case % 1000 == 0:
                gc.collect()
            slowest = max(slowest, await _timed_case(case, rng, problems, examples))
    finally:
        gc.enable()
    unclassified = sum(n for p, n in problems.items() if "raised" in p)
    leaks = sum(n for p, n in problems.items() if "planted" in p)
    return {
        "cases": cases,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "unclassifiedExceptions": unclassified,
        "leaks": leaks,
        "otherProblems": sum(problems.values()) - unclassified - leaks,
        "slowestCaseMs": round(slowest[0] * 1000, 1),
        "slowestCase": slowest[1],
        "problems": dict(problems),
        "firstSeen": examples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    report = asyncio.run(run(args.cases, args.seed))
    print(json.dumps(report, indent=2))
    return 0 if not report["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
