"""The SSO provider's sign-in form: filled only by `demo` (a person signs in themselves)."""

from __future__ import annotations

from playwright.sync_api import Page


class SignInPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    def sign_in(self, email: str, password: str) -> None:
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
