"""Adversarial bodies for bench/fuzz.py: shapes aimed at the super-linear paths a reader could have (escapes,
unterminated strings, bracket runs, many or repeated names, long digit runs, deep or wide XML), each up to its
route's limit, and the reader each goes through. bench/fuzz.py times every case and reports the slowest."""

from __future__ import annotations

import random
from collections.abc import Callable

from handlers.api import read_body

JSON_LIMITS = {"message": 64 * 1024, "dataverse": 256 * 1024}
XML_LIMIT = 1024 * 1024


def _fill(prefix: str, unit: str, limit: int, suffix: str = "") -> str:
    return prefix + unit * max(0, (limit - len(prefix) - len(suffix)) // len(unit)) + suffix


JSON_SHAPES: dict[str, Callable[[int], str]] = {
    "escaped quotes, unterminated": lambda n: _fill("[" * 33 + '"', '\\"', n),
    "quotes": lambda n: _fill("[" * 33, '"', n),
    "bracket run": lambda n: _fill("", "[", n),
    "brackets closed": lambda n: _fill("", "[", n // 2) + _fill("", "]", n // 2),
    "bracket pairs": lambda n: _fill("", "[]", n),
    "brackets in strings": lambda n: _fill('["', "[{", n, '"]'),
    "many integers": lambda n: _fill("[", "1,", n, "1]"),
    "many objects": lambda n: _fill("[", "{},", n, "{}]"),
    "many arrays": lambda n: _fill("[", "[[],[]],", n, "[]]"),
    "repeated names": lambda n: _fill("{", '"a":1,', n, '"a":1}'),
    "many names": lambda n: "{" + ",".join(f'"k{i}":1' for i in range(n // 9)) + "}",
    "long digits": lambda n: _fill('{"a":', "9", n, "}"),
    "long digits in strings": lambda n: _fill('{"a":"', "9", n, '"}'),
    "backslashes": lambda n: _fill('{"a":"', "\\\\", n, '"}'),
    "unicode escapes": lambda n: _fill('{"a":"', "\\ud800", n, '"}'),
    "whitespace": lambda n: _fill("{", " ", n, "}"),
    "deep then wide": lambda n: "[" * 31 + _fill("", "{},", n - 70, "{}") + "]" * 31,
}
XML_SHAPES: dict[str, Callable[[int], str]] = {
    "many elements": lambda n: _fill("<a>", "<b/>", n, "</a>"),
    "deep elements": lambda n: "<a>" * (n // 8) + "</a>" * (n // 8),
    "long text": lambda n: _fill("<a>", "x", n, "</a>"),
    "many attributes": lambda n: "<a " + " ".join(f'k{i}="1"' for i in range(n // 10)) + "/>",
    "character references": lambda n: _fill("<a>", "&#65;", n, "</a>"),
}


def adversarial_body(rng: random.Random) -> tuple[str, str, bytes]:
    """(route, shape, body): a hostile body up to its route's limit (sometimes the whole limit)."""
    if rng.random() < 0.25:
        route, shapes, limit = "salesforce", XML_SHAPES, XML_LIMIT
    else:
        route = rng.choice(sorted(JSON_LIMITS))
        shapes, limit = JSON_SHAPES, JSON_LIMITS[route]
    shape = rng.choice(sorted(shapes))
    size = limit if rng.random() < 0.5 else rng.randrange(1024, limit)
    return route, shape, shapes[shape](size).encode("utf-8", "surrogatepass")[:limit]


def read(route: str, body: bytes) -> object:
    """The body through its route's reader, as the route reads it before anything else."""
    return read_body(route, body)
