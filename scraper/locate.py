"""Turn a selector entry from configuration into a Playwright locator.

Entries name elements the way a person (and assistive technology) does: by role and accessible
name, or by label; CSS is the fallback for editor internals that have no role. Keeping them in
configuration makes a change of Looker's page a settings change, not a code change.
"""

from __future__ import annotations

from collections.abc import Mapping

from playwright.sync_api import Locator, Page


def locate(root: Page | Locator, spec: Mapping[str, str]) -> Locator:
    exact = str(spec.get("exact", "true")).lower() == "true"
    if "role" in spec:
        options: dict[str, object] = {}
        if "name" in spec:
            options["name"] = spec["name"]
            options["exact"] = exact
        if "level" in spec:
            options["level"] = int(spec["level"])
        return root.get_by_role(spec["role"], **options)  # type: ignore[arg-type]
    if "label" in spec:
        return root.get_by_label(spec["label"], exact=exact)
    if "text" in spec:
        return root.get_by_text(spec["text"], exact=exact)
    return root.locator(spec["css"])
