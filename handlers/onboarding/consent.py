"""The consent alarm: a dead App+User sign-in is logged as an error (the alert keys on it) every time it is met, and
published as `csp.onboarding.consent.required` at most once an hour across every instance (contract §5). A sign-in
that has not happened yet (App+User just turned on, no `ops.consent` run) is not dead: it is reported once, across
every instance, as a warning, with no alert and no event."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from handlers.domain.events import ConsentRequiredData, consent_event
from handlers.domain.failures import OnboardingError
from handlers.domain.ports import EventSink, Notices

log = logging.getLogger("csp_onboarding")

TOPIC = "consent-required"
NOT_SIGNED_IN_TOPIC, NOT_SIGNED_IN_SLOT = "app-user-not-signed-in", "until-first-consent"
NOT_SIGNED_IN = (
    "App+User not signed in yet: App+User is on (PARTNER_CENTER_USER_TOKEN_SECRET_URL) and no Admin agent has "
    "signed in. Indirect-reseller and MCA requests fail not_authorized until one runs `python -m ops.consent`; "
    "direct customers are created as usual."
)
ALERT = "app_user_consent_required"  # the `alert` dimension the Azure Monitor alert filters on
OPERATOR_ACTION = (
    "An Admin agent of the partner tenant must sign in again with MFA: run `python -m ops.consent` (it writes the new "
    "refresh token to Key Vault), then replay the requests that failed with not_authorized."
)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ConsentAlarm:
    """Called with a reason (refresh_token_missing / _expired / _revoked, mfa_required) whenever the App+User token
    source meets a dead sign-in; never raises (the onboarding error it accompanies is what the caller reports)."""

    def __init__(self, notices: Notices, events: EventSink, *, source: str) -> None:
        self._notices = notices
        self._events = events
        self._source = source
        self._since: float | None = None  # when this worker first met the dead sign-in, this time round
        self._last = 0.0
        self._told = False  # whether this worker has reported "not signed in yet"

    async def not_signed_in(self) -> None:
        """Report that nobody has signed in yet: a warning the first time across instances (a notice row), else at
        info, once per worker; never raises."""
        if self._told:
            return
        self._told = True
        try:
            first = await self._notices.first_notice(NOT_SIGNED_IN_TOPIC, NOT_SIGNED_IN_SLOT)
        except OnboardingError:
            first = True  # better a second warning than none
        log.log(logging.WARNING if first else logging.INFO, NOT_SIGNED_IN)

    async def __call__(self, reason: str) -> None:
        now = time.time()
        if self._since is None or now - self._last > 2 * 3600:  # quiet for two hours: a new episode
            self._since = now
        self._last = now
        log.error("App+User sign-in needed (%s): %s", reason, OPERATOR_ACTION, extra={"alert": ALERT})
        slot = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H")
        try:
            if not await self._notices.first_notice(TOPIC, slot):
                return
        except OnboardingError as error:
            log.warning("Could not record the consent notice (%s): publishing it anyway", error)
        data = ConsentRequiredData(reason=reason, message=OPERATOR_ACTION, since=_iso(self._since))
        event = consent_event(data, source=self._source, slot=slot)
        try:
            await self._events.publish([event.to_json()])
            log.warning("Published consent.required event %s", event.id, extra={"eventId": event.id})
        except OnboardingError as error:
            log.warning("Could not publish consent.required (%s): the next failure this hour tries again", error)
            await self._notices.forget_notice(TOPIC, slot)
