"""Who is signed in, in the three modes of ``[auth] mode`` (see ``loaders.access`` and docs/configuration.md).

- ``none``: one local user, an admin (the default: a dashboard on one's own machine);
- ``oidc``: Streamlit's ``st.login`` with the OpenID Connect provider set in ``.streamlit/secrets.toml``
  (``[auth]`` there: ``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``,
  ``server_metadata_url``); the user is the ID token's ``email``;
- ``header``: a trusted reverse proxy signs the user in and sets a header (``X-Forwarded-Email``); the app
  must be reachable only through that proxy, or anyone could send the header.

The gate (:func:`require_user`) runs on every page before any data is read; the data context reads the same
user (:func:`signed_in_user`), so a page that skipped the gate would still get no data for a stranger.
"""

from __future__ import annotations

import streamlit as st

from loaders import Access, Settings, User
from ui.text import md

__all__ = ["render_account", "require_user", "signed_in_user"]


def _oidc_identity() -> tuple[str | None, str]:
    user = st.user
    if not user.get("is_logged_in"):
        return None, ""
    if user.get("email_verified") is False:  # an address the provider has not checked proves nothing
        return None, ""
    email = user.get("email")
    return (str(email) if email else None), str(user.get("name") or "")


def header_email(values: list[str]) -> str | None:
    """The one address a proxy's header holds, or ``None`` when it holds none or several.

    >>> header_email(["lead@vendor.example"]), header_email(["a@x.example", "b@y.example"])
    ('lead@vendor.example', None)
    >>> header_email(["a@x.example, b@example.com"]) is None
    True
    """
    found = [v.strip() for v in values if v.strip()]
    if len(found) != 1 or any(c in found[0] for c in ", \t;<>\"") or found[0].count("@") != 1:
        return None
    return found[0]


def _identity(access: Access) -> tuple[str | None, str]:
    if access.mode == "header":
        # exactly one value, one address: a proxy that appends instead of replacing, or a merged "a@x, b@y",
        # must not let a client's own header or a second address decide who this is
        return header_email(st.context.headers.get_all(access.header)), ""
    if access.mode == "oidc":
        return _oidc_identity()
    return None, ""


def signed_in_user(settings: Settings | Access) -> User | None:
    """The user of this session under the configured mode, or ``None`` (not signed in, or no role)."""
    access = settings if isinstance(settings, Access) else settings.access
    email, name = _identity(access)
    return access.user(email, name=name)


def render_account(user: User, access: Access) -> None:
    """Who is signed in (and, with OpenID Connect, a sign-out button); nothing in ``none`` mode."""
    mode = access.mode
    if mode == "none":
        return
    email = md(user.email) if user.name else ""
    st.caption(f"Signed in as {md(user.display)} ({user.role})" + (f" · {email}" if email else ""))
    if mode == "oidc":
        st.button("Sign out", key="auth_logout", icon=":material/logout:", on_click=st.logout, type="tertiary")


def require_user(access: Access, *, title: str) -> User:
    """The signed-in user; otherwise the page says why it shows nothing (with a sign-in button where one
    helps) and stops."""
    user = signed_in_user(access)
    if user is not None:
        return user
    email, _name = _identity(access)
    st.title(title)
    if access.mode == "oidc" and email is None and st.user.get("is_logged_in"):
        st.error("**Your account has no verified e-mail address**, which is how this dashboard knows who you are. "
                 "Sign in with another account, or ask your identity provider's admin.", icon=":material/block:")
        st.button("Sign out", key="auth_logout", icon=":material/logout:", on_click=st.logout)
    elif access.mode == "oidc" and email is None:
        st.info("Sign in to see the dashboard.", icon=":material/lock:")
        st.button("Sign in", key="auth_login", icon=":material/login:", type="primary", on_click=st.login)
    elif access.mode == "header" and email is None:
        st.error("**Nobody is signed in.** This dashboard is served behind a sign-in proxy, and this request did not "
                 "come through it. Open the dashboard at its usual address.", icon=":material/lock:")
    else:
        st.error(f"**{md(email)} has no access to this dashboard.** Ask an admin to add you to the roles.",
                 icon=":material/block:")
        if access.mode == "oidc":
            st.button("Sign out", key="auth_logout", icon=":material/logout:", on_click=st.logout)
    st.stop()
    raise AssertionError("unreachable")  # st.stop raises
