"""The web application: one FastAPI app, parts mounted by path.

- ``/widget/``   the embeddable chat widget's files (``widget/src``) and socket.io-client's
                 browser bundle (``/widget/vendor/socket.io.min.js``), public
- ``/``          the demo host page and its token minting (only in demo mode)
- ``/console/``  the support leads' console (``supportbot.console``)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from supportbot.console.app import create_console_app
from supportbot.settings import PROJECT_ROOT, Settings, get_settings
from supportbot.store.db import make_engine, session_factory
from supportbot.web.demo import demo_router
from supportbot.web.helpcentre import helpcentre_router
from supportbot.web.security import SecurityHeaders, page_csp

logger = logging.getLogger(__name__)

WIDGET_DIR = PROJECT_ROOT / "widget"
WIDGET_SOURCE = WIDGET_DIR / "src"
SOCKET_IO_BUNDLE = WIDGET_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url) if settings.demo_mode else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not SOCKET_IO_BUNDLE.exists():
            logger.warning("%s is missing: run scripts/widget.sh (the widget cannot connect)", SOCKET_IO_BUNDLE)
        yield
        if engine is not None:
            engine.dispose()

    app = FastAPI(title="Lumen support", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_middleware(SecurityHeaders, csp=page_csp(rasa_public_url=settings.rasa_public_url or settings.rasa_url))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Registered before the /widget mount, which would otherwise answer this path.
    @app.get("/widget/vendor/socket.io.min.js", include_in_schema=False)
    def socket_io_bundle() -> FileResponse:
        if not SOCKET_IO_BUNDLE.exists():
            raise HTTPException(status_code=503, detail="socket.io client not installed: run scripts/widget.sh")
        return FileResponse(SOCKET_IO_BUNDLE, media_type="text/javascript")

    app.mount("/widget", StaticFiles(directory=WIDGET_SOURCE), name="widget")

    # The support leads' console (docs/CONSOLE.md): its own app, sign-in required everywhere.
    app.mount("/console", create_console_app(settings))

    if settings.demo_mode and engine is not None:
        app.mount("/demo/static", StaticFiles(directory=STATIC_DIR), name="demo-static")
        # The help centre's pages (/help, /help/articles/<slug>) on the demo site.
        app.include_router(helpcentre_router(settings=settings, sessions=session_factory(engine)))
        app.include_router(demo_router(settings=settings, sessions=session_factory(engine)))

    return app
