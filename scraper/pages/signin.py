"""The SSO provider's sign-in form: filled only by `demo` and the tests (a person signs in
themselves)."""

from __future__ import annotations

from playwright.async_api import Page


class SignInPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    async def sign_in(self, email: str, password: str) -> None:
        await self.page.get_by_label("Email").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
