"""Error types that carry their context, so the reply, the DM and the log can each say what failed.

Every failure a memo can meet is one of these. `transient` decides whether a later cycle retries
it (with backoff) or whether it is final and goes to a person at once.
"""

from __future__ import annotations


class CreditBotError(Exception):
    """Base: a short message plus the context (link, cell, setting...) it happened in."""

    kind = "error"
    transient = False

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        return self.message


class UsageError(CreditBotError):
    """Bad usage or settings: the CLI exits 2 with this message (it names the setting)."""

    kind = "usage"


class SettingsError(UsageError):
    kind = "settings"

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}", setting=setting)
        self.setting = setting


class SetupError(UsageError):
    """A problem of this machine or of the settings, not of any memo: no browser, no kernel,
    a notebook file missing or refused, the data dir not writable. The cycle stops (exit 2)
    without a word in any memo thread, a person gets one DM, and the memos wait until it is
    fixed. `setting` names the setting to look at, where there is one."""

    kind = "setup"

    def __init__(self, message: str, *, setting: str | None = None, **context: object) -> None:
        super().__init__(message, setting=setting, **context)
        self.setting = setting

    def __str__(self) -> str:
        return f"{self.message} (check {self.setting})" if self.setting else self.message


class ChannelAccessError(UsageError):
    """The bot cannot read the channel; a person must /invite it (it never joins by itself)."""

    kind = "channel_access"


class AnotherWorkerRunning(CreditBotError):
    kind = "locked"


# --- Looker / scraping ------------------------------------------------------------------------


class ScrapeError(CreditBotError):
    """A link could not be read; `url` names it."""

    kind = "scrape"

    def __init__(self, message: str, *, url: str, **context: object) -> None:
        super().__init__(message, url=url, **context)
        self.url = url


class SessionExpired(ScrapeError):
    """Looker sent the browser to its sign-in page: a person must run `python main.py login`."""

    kind = "session_expired"
    transient = True


class NoSession(SessionExpired):
    kind = "no_session"


class QueryNotFound(ScrapeError):
    kind = "query_not_found"


class UnsupportedPage(ScrapeError):
    """A dashboard, a page without a SQL tab, or a link form CreditBot does not read."""

    kind = "unsupported"


class ScrapeTimeout(ScrapeError):
    kind = "timeout"
    transient = True


class LookerUnavailable(ScrapeError):
    """Looker answered with an error page (5xx): worth another try later."""

    kind = "looker_error"
    transient = True


class BrowserCrashed(ScrapeError):
    kind = "browser_crashed"
    transient = True


class BlockedRequest(ScrapeError):
    """The page tried to leave the Looker origin; the authenticated browser never goes there."""

    kind = "blocked_host"


class SqlNotFound(ScrapeError):
    """The page stopped loading with no SQL tab or viewer on it that could be read: maybe a
    Looker drawn in a way no strategy knows, maybe a page that half-loaded. Retried, and the
    explanation (`scrape URL --explain`) says what was tried and what to configure."""

    kind = "sql_not_found"
    transient = True


class IncompleteSQL(ScrapeError):
    """The editor's lines could not all be collected; a partial query is never returned."""

    kind = "incomplete_sql"
    transient = True


# --- Queries and notebooks --------------------------------------------------------------------


class UnsafeSQL(CreditBotError):
    """The scraped text is not one read-only statement; it is never run. `parsed` tells text
    that is SQL (a DELETE, two statements) from text that is not SQL at all."""

    kind = "unsafe_sql"

    def __init__(self, message: str, *, parsed: bool = True, **context: object) -> None:
        super().__init__(message, **context)
        self.parsed = parsed


class NotebookFailed(CreditBotError):
    """The notebook raised: names the cell and the exception, as papermill does."""

    kind = "notebook_error"

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        cell: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
        output_path: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(
            message,
            notebook=notebook,
            cell=cell,
            ename=ename,
            evalue=evalue,
            output_path=output_path,
        )
        self.transient = transient
        self.output_path = output_path


class BadResult(CreditBotError):
    """The notebook ran but its result variable is missing, not a number, or negative."""

    kind = "bad_result"


class NotebookRefused(SetupError):
    """A notebook CreditBot will not run (missing, unreadable, no `parameters` cell): every memo
    routed to it would fail the same way, so it is the setup's problem, not a memo's."""

    kind = "notebook_refused"
