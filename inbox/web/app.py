"""The FastAPI application: settings, sessions, CSRF, error pages; routes in pages.py / api.py.

Sessions live in a signed cookie (Starlette's SessionMiddleware, key kept in the
database so every inbox process accepts every other's cookies; HttpOnly, SameSite
strict, Secure unless served on loopback). Each session also carries its login time and
expires after `session_max_age_s`. Every state-changing request with a cookie must carry
the session's CSRF token (form field `csrf` or header `X-CSRF-Token`); API scripts use a
bearer token instead and need none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from inbox.auth import LoginLocked
from inbox.db import open_db, secret
from inbox.errors import InboxError
from inbox.service import NotFound, Refused
from inbox.store import AudioStore
from inbox.web import api, pages
from inbox.web.deps import WEB, AuthRequired, CsrfFailed, is_api, render

__all__ = ["AuthRequired", "CsrfFailed", "InboxSettings", "make_app"]


@dataclass(frozen=True)
class InboxSettings:
    db_url: str
    store_dir: Path
    session_max_age_s: int = 8 * 3600
    """A login lasts this long (a working day)."""
    secure_cookies: bool = False
    """Send the session cookie only over HTTPS (on unless the inbox listens on loopback)."""


def _error(request: Request, status: int, message: str) -> Response:
    if is_api(request):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", status=status, message=message, user=None)


def make_app(settings: InboxSettings, engine: Engine | None = None) -> FastAPI:
    engine = engine or open_db(settings.db_url)
    app = FastAPI(title="badgekit inbox", version="1", openapi_url="/api/v1/openapi.json",
                  docs_url=None, redoc_url=None,
                  description="The compliance workspace's JSON API (meetings, review, evidence, dashboards).")
    app.state.engine = engine
    app.state.store = AudioStore(settings.store_dir)
    app.state.settings = settings
    app.state.templates = Jinja2Templates(directory=str(WEB / "templates"))
    app.add_middleware(SessionMiddleware, secret_key=secret(engine, "session_key"),
                       session_cookie="badgekit_inbox", max_age=settings.session_max_age_s + 3600,
                       same_site="strict", https_only=settings.secure_cookies)

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "media-src 'self'; frame-ancestors 'none'")
        return response

    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.exception_handler(AuthRequired)
    async def _auth(request: Request, exc: AuthRequired) -> Response:
        if is_api(request):
            return JSONResponse({"error": "session expired" if exc.expired else "login required"},
                                status_code=401)
        return RedirectResponse("/login" + ("?expired=1" if exc.expired else ""), status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        return _error(request, 403, "CSRF token missing or wrong; reload the page and try again")

    @app.exception_handler(NotFound)
    async def _nf(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(LoginLocked)
    async def _locked(request: Request, exc: LoginLocked) -> Response:
        return _error(request, 429, str(exc))

    @app.exception_handler(InboxError)
    async def _inbox(request: Request, exc: InboxError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        bad_path = any(e.get("loc", ("",))[0] == "path" for e in exc.errors())
        if bad_path:
            return _error(request, 404, "not found")
        return _error(request, 422, "invalid request: " + "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()[:3]))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    return app
