"""Every router of the web UI, for ``create_app``: pages, login, and static files."""

from __future__ import annotations

from fastapi import APIRouter

from detektor.ui import (
    explorer,
    login,
    overview,
    recordings_page,
    review,
    static_files,
    system_page,
)

UI_ROUTERS: tuple[APIRouter, ...] = (
    overview.router,
    review.router,
    explorer.router,
    recordings_page.router,
    system_page.router,
    login.router,
    static_files.router,
)
