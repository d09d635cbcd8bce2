"""The floor: the same work done the barest way, measured in the same run on the same machine.

CreditBot's stages are compared with what the tools themselves need: a Playwright page load of
the same Looker page with the same session, a papermill run of the same notebook with the same
SQL and parameters, and one `chat.postMessage`. Nothing of the product runs here except its
Chromium launch options (the same browser, started the same way).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import percentile, summary
from bench.world import BenchWorld


@dataclass
class Floors:
    browser_launch: list[float] = field(default_factory=list)  # launch + new context
    page_load: dict[str, list[float]] = field(default_factory=dict)  # goto -> SQL text visible
    page_checked: dict[str, bool] = field(default_factory=dict)  # the text was the query's
    notebook: dict[str, list[float]] = field(default_factory=dict)
    notebook_path: dict[str, str] = field(default_factory=dict)
    post: list[float] = field(default_factory=list)
    chromium_version: str | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)  # each round's p50s: drift

    def merge(self, other: Floors) -> Floors:
        """Pool another round's samples (the floors are taken at the start and at the end of a
        run, so a machine whose load drifts weighs on both sides of the ratio alike)."""
        pooled = Floors(
            browser_launch=self.browser_launch + other.browser_launch,
            post=self.post + other.post,
            chromium_version=self.chromium_version or other.chromium_version,
            rounds=self.rounds + other.rounds,
        )
        for name in ("page_load", "notebook"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(pooled, name, {k: mine.get(k, []) + theirs.get(k, []) for k in mine | theirs})
        pooled.page_checked = {
            k: self.page_checked.get(k, True) and other.page_checked.get(k, True)
            for k in self.page_checked | other.page_checked
        }
        pooled.notebook_path = {**self.notebook_path, **other.notebook_path}
        return pooled

    def page_floor(self, key: str) -> float | None:
        return fastest(self.page_load.get(key, []))

    def notebook_floor(self, key: str) -> float | None:
        return fastest(self.notebook.get(key, []))

    def page_p50(self, key: str) -> float | None:
        return percentile(self.page_load.get(key, []), 50)

    def notebook_p50(self, key: str) -> float | None:
        return percentile(self.notebook.get(key, []), 50)

    def link(self, key: str) -> float | None:
        """One link done the bare way: its fastest page load plus its fastest notebook."""
        page, notebook = self.page_floor(key), self.notebook_floor(key)
        return None if page is None or notebook is None else page + notebook

    def memo(self, keys: tuple[str, ...]) -> float | None:
        """The issue's floor for a memo: its slowest page load plus its slowest notebook, as if
        every link were read and run at once (each at its fastest in this run)."""
        pages = [self.page_floor(k) for k in keys]
        notebooks = [self.notebook_floor(k) for k in keys]
        if not keys or None in pages or None in notebooks:
            return None
        return max(p for p in pages if p is not None) + max(n for n in notebooks if n is not None)

    def post_floor(self) -> float | None:
        return fastest(self.post)

    def post_p50(self) -> float | None:
        return percentile(self.post, 50)

    def as_dict(self) -> dict[str, Any]:
        return {
            "chromium_version": self.chromium_version,
            "browser_launch_s": summary(self.browser_launch),
            "page_load_s": {k: summary(v) for k, v in self.page_load.items()},
            "page_text_checked": self.page_checked,
            "notebook_s": {k: summary(v) for k, v in self.notebook.items()},
            "notebook_path": self.notebook_path,
            "post_message_s": summary(self.post),
            "link_s": {k: self.link(k) for k in self.page_load},
            "rounds": self.rounds,
            "raw": {
                "browser_launch": self.browser_launch,
                "page_load": self.page_load,
                "notebook": self.notebook,
                "post": self.post,
            },
        }


def fastest(times: list[float]) -> float | None:
    """A floor is the fastest the bare way went in this run, not its median: a bare papermill
    run now and then waits 2.6 s for its kernel to stop (jupyter_client then terminates it),
    and a floor raised by that would make every target against it easier to meet."""
    return min(times) if times else None


def measure_floors(
    world: BenchWorld,
    keys: tuple[str, ...],
    *,
    page_reps: int,
    notebook_reps: int,
    post_reps: int,
    launch_reps: int,
) -> Floors:
    floors = Floors()
    page_loads(world, keys, page_reps, launch_reps, floors)
    for key in keys:
        notebook_runs(world, key, notebook_reps, floors)
    floors.post = post_messages(world, post_reps)
    floors.rounds = [
        {
            "page_load_p50": {k: floors.page_p50(k) for k in floors.page_load},
            "notebook_p50": {k: floors.notebook_p50(k) for k in floors.notebook},
            "post_p50": floors.post_p50(),
        }
    ]
    return floors


def page_loads(
    world: BenchWorld, keys: tuple[str, ...], reps: int, launch_reps: int, floors: Floors
) -> None:
    """A minimal script: launch as the product does, a context with the stored session, then
    per repetition a fresh context and page: goto, click the SQL tab, wait for the query."""
    from playwright.sync_api import sync_playwright

    from scraper.browser import launch_options

    with sync_playwright() as p:
        options = launch_options(p, override=os.environ.get("CHROMIUM_PATH"))
        for _ in range(launch_reps):
            started = time.monotonic()
            browser = p.chromium.launch(**options)
            context = browser.new_context(storage_state=world.storage_state)  # type: ignore[arg-type]
            floors.browser_launch.append(time.monotonic() - started)
            context.close()
            browser.close()
        browser = p.chromium.launch(**options)
        where = options.get("executable_path") or "Playwright's own"
        floors.chromium_version = f"{browser.version} ({where})"  # which build: shell or full
        try:
            for key in keys:
                url = world.url_for(key)
                first_line = world.query(key).sql.splitlines()[0].strip()
                times, checked = [], True
                for _ in range(reps):
                    context = browser.new_context(storage_state=world.storage_state)  # type: ignore[arg-type]
                    page = context.new_page()
                    started = time.monotonic()
                    page.goto(url)
                    page.get_by_role("tab", name="SQL").click()
                    viewer = page.get_by_label("SQL query")
                    viewer.wait_for(state="visible")
                    times.append(time.monotonic() - started)
                    checked = checked and first_line in viewer.inner_text()
                    context.close()
                floors.page_load[key] = times
                floors.page_checked[key] = checked
        finally:
            browser.close()


def notebook_runs(world: BenchWorld, key: str, reps: int, floors: Floors) -> None:
    """`papermill.execute_notebook` of the notebook the desk's TOML routes this SQL to, with
    the same parameters the product injects (the SQL and the desk's extra parameters)."""
    import papermill

    assert world.config is not None
    sql = world.query(key).sql
    route = world.config.route(sql)
    if route is None:
        return
    parameters = {**world.config.parameters, world.config.parameter: sql}
    times = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-notebook-") as tmp,
        _stderr_to(world.root / "logs" / "floor-notebooks.err"),
    ):
        for i in range(reps):
            started = time.monotonic()
            papermill.execute_notebook(
                str(route.notebook),
                str(Path(tmp) / f"{key}-{i}.ipynb"),
                parameters=parameters,
                progress_bar=False,
                log_output=False,
            )
            times.append(time.monotonic() - started)
    floors.notebook[key] = times
    floors.notebook_path[key] = str(route.notebook)


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Kernels inherit file descriptor 2 and warn there; keep that out of the bench's table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with path.open("ab") as log:
            os.dup2(log.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def post_messages(world: BenchWorld, reps: int) -> list[float]:
    """`chat.postMessage` into a thread with `slack_sdk.WebClient` against the local Slack."""
    from slack_sdk import WebClient

    from sandbox.slack import ANALYST, BOT_TOKEN, MEMO_CHANNEL_ID

    client = WebClient(token=BOT_TOKEN, base_url=world.slack.api_url)
    parent = world.slack.post(ANALYST, "floor: a thread to reply in")["ts"]
    times = []
    for i in range(reps):
        started = time.monotonic()
        client.chat_postMessage(channel=MEMO_CHANNEL_ID, thread_ts=parent, text=f"floor {i}")
        times.append(time.monotonic() - started)
    return times
