"""The web console under `/console`: advisors' inbox and conversations, the admin's advisors and dashboard."""

from fastapi import APIRouter

from bot.web.console import admin, ai_review, events, pages, sign_in

router = APIRouter()
router.include_router(sign_in.router)
router.include_router(pages.router)
router.include_router(ai_review.router)
router.include_router(admin.router)
router.include_router(events.router)
