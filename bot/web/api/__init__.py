"""The JSON API under `/api`: conversations, advisors, CRM links, admin."""

from fastapi import APIRouter

from bot.web.api import advisors, conversations, crm

router = APIRouter(prefix="/api")
router.include_router(conversations.router)
router.include_router(advisors.router)
router.include_router(crm.router)
