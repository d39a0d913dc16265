"""The leak scan itself can fail: a planted password is found, and reported without being shown."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.leak_scan import find_leaks, secrets_of

EMULATOR_SECRETS = {
    "passwords": ["Zq8vN3rT1pLk!7"],
    "tokens": ["emu.token-value-123456"],
    "assertions": [],
    "clientSecret": "client-secret-abcdef",
    "topicKey": "topic-key-abcdefgh",
    "identityHeader": None,
}


def test_a_planted_password_in_a_log_is_found(tmp_path: Path) -> None:
    log_file = tmp_path / "host.log"
    handler = logging.FileHandler(log_file)
    logger = logging.getLogger("leaky.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("created customer, admin password %s", "Zq8vN3rT1pLk!7")  # the deliberate leak
    finally:
        handler.close()
        logger.removeHandler(handler)
    leaks = find_leaks([log_file.read_text()], secrets_of(EMULATOR_SECRETS))
    assert leaks == ["Zq8v…(14 chars)"]
    assert "Zq8vN3rT1pLk!7" not in "".join(leaks)


def test_clean_text_has_no_leaks() -> None:
    assert find_leaks(["Customer c-1 created; token [redacted]"], secrets_of(EMULATOR_SECRETS)) == []
