"""What every page and API route depends on: who is asking, the CSRF token, rendering.

Kept apart from `app.py` so the routers (`pages.py`, `api.py`) import these without
importing the application that includes them.
"""

from __future__ import annotations

import hmac
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from inbox.auth import User, user_by_id, user_by_token
from inbox.web.i18n import translator

__all__ = ["WEB", "AuthRequired", "CsrfFailed", "check_csrf", "current_user", "is_api", "render"]

WEB = Path(__file__).resolve().parent


class AuthRequired(Exception):
    def __init__(self, expired: bool = False) -> None:
        self.expired = expired


class CsrfFailed(Exception):
    pass


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def current_user(request: Request) -> User:
    engine: Engine = request.app.state.engine
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        with engine.connect() as conn:
            user = user_by_token(conn, auth[7:].strip())
        if user is None:
            raise AuthRequired()
        request.state.by_token = True
        return user
    sess = request.session
    uid, t = sess.get("uid"), sess.get("t")
    if not isinstance(uid, int) or not isinstance(t, int | float):
        raise AuthRequired()
    if time.time() - t > request.app.state.settings.session_max_age_s:
        sess.clear()
        raise AuthRequired(expired=True)
    with engine.connect() as conn:
        user = user_by_id(conn, uid)
    if user is None:
        sess.clear()
        raise AuthRequired()
    return user


def csrf_token(request: Request) -> str:
    tok = request.session.get("csrf")
    if not isinstance(tok, str):
        tok = secrets.token_urlsafe(32)
        request.session["csrf"] = tok
    return tok


async def check_csrf(request: Request) -> None:
    """Refuse a cookie-authenticated state change without the session's token."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return  # a script with a token (checked by current_user); browsers never send one by themselves
    sent = request.headers.get("x-csrf-token", "")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = str((await request.form()).get("csrf", ""))
    want = request.session.get("csrf")
    if not isinstance(want, str) or not sent or not hmac.compare_digest(sent, want):
        raise CsrfFailed()


def lang_of(request: Request) -> str:
    return "en" if request.cookies.get("lang") == "en" else "zh-CN"


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = lang_of(request)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, {
        "t": translator(lang), "lang": lang, "csrf": csrf_token(request), **ctx}, status_code=status)
