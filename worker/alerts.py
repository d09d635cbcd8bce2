"""Telling a person what only a person can fix: an expired (or expiring) Looker session, and a
problem of the machine or the settings that stops every memo.

Each is told once: the "already told" marks live in the state database, so `once` under cron
sends one DM per problem rather than one per run. A new `login` or a successful scrape clears the
session marks; a cycle that gets through its memos clears the setup mark.
"""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError

from auth.store import Stored
from bot.reply import session_expired_text, session_expiring_text, setup_problem_text
from bot.slack import SlackGateway, SlackUnavailable
from core.errors import SetupError
from state.store import StateStore
from worker.settings import Settings

log = logging.getLogger(__name__)

TOLD_EXPIRED = "session_expired_told"
TOLD_EXPIRING = "session_expiring_told"
TOLD_SETUP = "setup_problem_told"


class Alerts:
    def __init__(
        self,
        settings: Settings,
        slack: SlackGateway,
        state: StateStore,
        *,
        dry_run: bool = False,
    ) -> None:
        self.settings = settings
        self.slack = slack
        self.state = state
        self.dry_run = dry_run

    def scrape_succeeded(self) -> None:
        """Looker accepted the session: a later expiry is a new one, worth a new DM."""
        if not self.dry_run and self.state.get_meta(TOLD_EXPIRED):
            self.state.set_meta(TOLD_EXPIRED, None)

    def after_cycle(self, *, session_dead: bool, stored: Stored | None) -> None:
        if self.dry_run or not self.settings.slack_alert_user:
            return
        if session_dead and not self.state.get_meta(TOLD_EXPIRED):
            text = session_expired_text(self.settings.looker_base_url)
            if self._dm(text, "the expired session"):
                self.state.set_meta(TOLD_EXPIRED, f"{time.time():.0f}")
        self.warn_if_expiring(stored)

    def warn_if_expiring(self, stored: Stored | None) -> None:
        """One DM per stored session whose cookies expire within the warning window."""
        if stored is None or stored.expires_at is None:
            return
        left = stored.expires_at - time.time()
        session_id = f"{stored.saved_at:.0f}"
        window = self.settings.session_warning_hours * 3600
        if not 0 < left <= window or self.state.get_meta(TOLD_EXPIRING) == session_id:
            return
        when = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(stored.expires_at))
        text = session_expiring_text(self.settings.looker_base_url, f"at {when}")
        if self._dm(text, "the expiring session"):
            self.state.set_meta(TOLD_EXPIRING, session_id)

    def setup_problem(self, problem: SetupError) -> None:
        """One DM per distinct problem, however many cycles meet it."""
        if self.dry_run or not self.settings.slack_alert_user:
            return
        if self.state.get_meta(TOLD_SETUP) == str(problem):
            return
        if self._dm(setup_problem_text(problem), "the setup problem"):
            self.state.set_meta(TOLD_SETUP, str(problem))

    def setup_fine(self) -> None:
        """The memos got through: a later problem, even the same one, is news again."""
        if not self.dry_run and self.state.get_meta(TOLD_SETUP):
            self.state.set_meta(TOLD_SETUP, None)

    def _dm(self, text: str, about: str) -> bool:
        try:
            self.slack.dm(self.settings.slack_alert_user or "", text)
        except (SlackApiError, SlackUnavailable) as exc:
            log.error("could not DM about %s: %s", about, exc)
            return False
        return True
