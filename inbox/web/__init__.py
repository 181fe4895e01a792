"""The web workspace: FastAPI app (`make_app`), pages, JSON API under /api/v1/."""

from inbox.web.app import InboxSettings, make_app

__all__ = ["InboxSettings", "make_app"]
