"""Storage fakes: the ledger's rows, notices and the intake's records in memory (each a port of domain/ports.py, the
intake's records two: IntakeRecords and RetainedRecords), a clock tests move, and Key Vault (a secret store; one
secret's versions)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from pydantic import SecretStr

from handlers.adapters.key_vault import SecretVersion, StoredSecret, VersionPage
from handlers.domain.failures import ErrorKind, OnboardingError
from handlers.domain.intake_record import IntakeRecord
from handlers.domain.ledger_entry import LedgerEntry
from handlers.domain.ports import RowChanged, RowExists, WriteUnknown


class FakeLedgerRows:
    """The ledger's rows in this process's memory (the LedgerRows port). `lose_answer` can make a write commit and
    then raise WriteUnknown, as a storage answer dropped on the way back does."""

    def __init__(self) -> None:
        self.rows: dict[str, LedgerEntry] = {}
        self._version = 0
        self.lose_answer: Callable[[LedgerEntry], bool] = lambda entry: False

    def _stamp(self, entry: LedgerEntry) -> LedgerEntry:
        self._version += 1
        stamped = replace(entry, etag=str(self._version))
        self.rows[entry.request_id] = stamped
        if self.lose_answer(stamped):
            raise WriteUnknown(entry.request_id)
        return stamped

    async def read(self, request_id: str) -> LedgerEntry | None:
        return self.rows.get(request_id)

    async def insert(self, entry: LedgerEntry) -> LedgerEntry:
        if entry.request_id in self.rows:
            raise RowExists(entry.request_id)
        return self._stamp(entry)

    async def replace(self, entry: LedgerEntry) -> LedgerEntry:
        current = self.rows.get(entry.request_id)
        if current is None or current.etag != entry.etag:
            raise RowChanged(entry.request_id)
        return self._stamp(entry)

    async def naming(self, customer_id: str, domain: str, *, besides: str) -> list[LedgerEntry]:
        return [
            e for e in self.rows.values()
            if e.request_id != besides and (e.customer_id == customer_id or e.domain == domain)
        ]  # fmt: skip

    async def decided_before(self, cutoff: float, *, limit: int) -> list[LedgerEntry]:
        return [e for e in self.rows.values() if e.decided is not None and e.updated_at < cutoff][:limit]

    async def undecided_before(self, cutoff: float, *, after: str, limit: int) -> list[LedgerEntry]:
        found = [e for k, e in sorted(self.rows.items()) if k > after and e.decided is None and e.updated_at < cutoff]
        return found[:limit]

    async def purge(self, request_id: str, etag: str) -> bool:
        current = self.rows.get(request_id)
        if current is None or current.etag != etag:
            return False
        del self.rows[request_id]
        return True


class FakeNotices:
    """Notices in memory (the Notices port), shared by whoever holds this object."""

    def __init__(self) -> None:
        self.notices: set[tuple[str, str]] = set()

    async def first_notice(self, topic: str, slot: str) -> bool:
        first = (topic, slot) not in self.notices
        self.notices.add((topic, slot))
        return first

    async def forget_notice(self, topic: str, slot: str) -> None:
        self.notices.discard((topic, slot))


class FakeIntakeRecords:
    """The intake's rows in memory (the IntakeRecords port)."""

    def __init__(self) -> None:
        self.rows: dict[str, IntakeRecord] = {}
        self._version = 0

    def _stamp(self, record: IntakeRecord) -> IntakeRecord:
        self._version += 1
        stamped = replace(record, etag=str(self._version))
        self.rows[record.key] = stamped
        return stamped

    async def get(self, key: str) -> IntakeRecord | None:
        return self.rows.get(key)

    async def insert(self, record: IntakeRecord) -> IntakeRecord:
        if record.key in self.rows:
            raise RowExists(record.key)
        return self._stamp(record)

    async def replace(self, record: IntakeRecord) -> IntakeRecord:
        current = self.rows.get(record.key)
        if current is None or current.etag != record.etag:
            raise RowChanged(record.key)
        return self._stamp(record)

    async def upsert(self, record: IntakeRecord) -> None:
        self._stamp(record)

    async def pending(self, *, limit: int) -> list[IntakeRecord]:
        return [r for r in self.rows.values() if r.pending_request_id is not None][:limit]

    async def written_before(self, cutoff: float, *, after: str, limit: int) -> list[IntakeRecord]:
        return [r for k, r in sorted(self.rows.items()) if k > after and r.updated_at < cutoff][:limit]

    async def delete(self, record: IntakeRecord) -> bool:
        current = self.rows.get(record.key)
        if current is not None and current.etag != record.etag:
            return False
        self.rows.pop(record.key, None)
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeVault:
    """Key Vault: refuses while `down`, else records what it was given (names only: values are secrets)."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.names: list[str] = []

    async def set_secret(
        self, name: str, value: SecretStr, *, tags: dict[str, str], expires_in_days: int, content_type: str
    ) -> str:
        if self.down:
            raise OnboardingError(ErrorKind.TRANSIENT, "Key Vault refused to store the secret (HTTP 503)")
        self.names.append(name)
        return f"https://vault.test/secrets/{name}"


@dataclass
class FakeVersion:
    """One version of the fake vault's secret."""

    value: str
    tags: dict[str, str]
    version: str
    created: int
    enabled: bool = True


class FakeTokenVault:
    """One Key Vault secret's versions in memory (the RefreshTokenVault port), as Key Vault keeps them: a write adds
    a version; `created` is a clock in whole seconds that each write moves one on (unless `clock_stopped`); a
    disabled latest version is refused (403 SecretDisabled), not stepped over; versions are listed `page_size` a
    page in version-id order, which is not the order of writing. `add` is a write from elsewhere (ops.consent);
    `before_write` runs just before a write lands; `failing` names the calls that refuse (`get`, `set`, `list`,
    `disable`); `disabled_latest` records any disabling of the latest version."""

    def __init__(self, *values: str, tags: dict[str, str] | None = None, page_size: int = 25) -> None:
        self.kept: list[FakeVersion] = []
        self.clock = 1_700_000_000
        self.clock_stopped = False
        self.page_size = page_size
        self.pages_listed = 0
        self.before_write: Callable[[], None] = lambda: None
        self.failing: set[str] = set()
        self.disabled_latest: list[str] = []
        for value in values:
            self.add(value, **(tags or {}))

    @property
    def values(self) -> list[str]:
        return [v.value for v in self.kept]

    @property
    def latest(self) -> FakeVersion:
        return self.kept[-1]

    def enabled(self) -> list[str]:
        """The values of the enabled versions, in the order of writing."""
        return [v.value for v in self.kept if v.enabled]

    def add(self, value: str, **tags: str) -> FakeVersion:
        self.clock += 0 if self.clock_stopped else 1
        n = len(self.kept)
        kept = FakeVersion(value, dict(tags), hashlib.sha256(str(n).encode()).hexdigest()[:32], self.clock)
        self.kept.append(kept)
        return kept

    def _refuse(self, call: str, status: int = 503) -> None:
        if call in self.failing:
            raise OnboardingError(ErrorKind.TRANSIENT, f"Key Vault refused to {call} (HTTP {status})")

    async def get_secret(self, name: str) -> StoredSecret | None:
        self._refuse("get")
        if not self.kept:
            return None
        if not self.latest.enabled:
            raise OnboardingError(ErrorKind.AUTH, "Key Vault refused to read (HTTP 403 Forbidden/SecretDisabled)")
        latest = self.latest
        return StoredSecret(SecretStr(latest.value), dict(latest.tags), latest.version, latest.created)

    async def set_secret(
        self, name: str, value: SecretStr, *, tags: dict[str, str], expires_in_days: int, content_type: str
    ) -> str:
        self._refuse("set")
        self.before_write()
        self.add(value.get_secret_value(), **tags)
        return f"https://vault.test/secrets/{name}"

    async def secret_versions(self, name: str, *, next_link: str | None = None) -> VersionPage:
        self._refuse("list")
        self.pages_listed += 1
        start = int(next_link.removeprefix("page:")) if next_link else 0
        ordered = sorted(self.kept, key=lambda v: v.version)
        page = ordered[start : start + self.page_size]
        more = f"page:{start + self.page_size}" if start + self.page_size < len(ordered) else None
        return VersionPage(tuple(SecretVersion(v.version, v.enabled, v.created, dict(v.tags)) for v in page), more)

    async def disable_version(self, name: str, version: str) -> None:
        self._refuse("disable")
        if self.kept and version == self.latest.version:
            self.disabled_latest.append(version)  # Key Vault would then refuse every read: never to be done
        for kept in self.kept:
            if kept.version == version:
                kept.enabled = False
