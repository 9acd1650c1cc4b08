from fastapi import APIRouter

from heroes_app.models import Stats
from heroes_app.services.stats import collect_stats

router = APIRouter(tags=["stats"])


@router.get("/stats", response_model=Stats)
def read_stats() -> Stats:
    return collect_stats()
