"""The JSON API under `/api`: conversations, customer profiles, advisors, CRM links, admin."""

from fastapi import APIRouter

from bot.web.api import (
    advisors,
    campaigns,
    conversations,
    crm,
    customers,
    drafts,
    feedback,
    knowledge,
    legacy,
    profiles,
)

router = APIRouter(prefix="/api")
router.include_router(conversations.router)
router.include_router(drafts.router)
router.include_router(feedback.router)
router.include_router(advisors.router)
router.include_router(crm.router)
router.include_router(profiles.router)
router.include_router(knowledge.router)
router.include_router(customers.router)
router.include_router(campaigns.router)
router.include_router(legacy.router)
