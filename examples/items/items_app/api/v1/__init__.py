from fastapi import APIRouter

from items_app.api.v1 import auth, categories, items

router = APIRouter()
router.include_router(items.router)
router.include_router(categories.router)
router.include_router(auth.router)
