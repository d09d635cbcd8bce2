"""One page object per Looker page (Playwright's page-object pattern)."""
