from fastapi import FastAPI

from profiles_app.api import router

app = FastAPI(title="Profiles")
app.include_router(router)
