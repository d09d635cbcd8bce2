"""Pages the local Looker's servers draw themselves: the identity provider's sign-in form and
plain messages (failed callbacks, unknown clients).

Kept apart from the servers in `sandbox/looker.py` so that each file has one job; the app's own
pages are drawn in the browser by a skin (`sandbox/looker_skins`).
"""

from __future__ import annotations

import html


def idp_form(
    *, client_id: str, redirect_uri: str, state: str, email: str = "", error: str = ""
) -> str:
    """Acme SSO's sign-in form; `error` is shown above it after wrong credentials."""
    e = html.escape
    alert = f'<p role="alert">{e(error)}</p>' if error else ""
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Acme SSO</title></head>"
        f"<body><h1>Sign in to Acme SSO</h1>{alert}"
        '<form method="post" action="/sso/login">'
        f'<input type="hidden" name="client_id" value="{e(client_id)}">'
        f'<input type="hidden" name="redirect_uri" value="{e(redirect_uri)}">'
        f'<input type="hidden" name="state" value="{e(state)}">'
        '<p><label for="email">Email</label> '
        '<input id="email" name="email" type="email" autocomplete="username" '
        f'value="{e(email)}"></p>'
        '<p><label for="password">Password</label> '
        '<input id="password" name="password" type="password" autocomplete="current-password"></p>'
        '<p><button type="submit">Sign in</button></p></form></body></html>\n'
    )


def message(title: str, text: str) -> str:
    """A plain server-drawn page (IdP errors, failed callbacks)."""
    e = html.escape
    return (
        f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
        f"</head><body><h1>{e(title)}</h1><p>{e(text)}</p></body></html>\n"
    )
