"""Table models and the API schemas built on them, the SQLModel way.

Every `str` column has a `max_length`: it becomes VARCHAR(n), which MySQL/MariaDB require, and
the same limit is validated on the way in by the create/update schemas.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlmodel import Field, Relationship, SQLModel

# --- teams -----------------------------------------------------------------------------------


class TeamBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    headquarters: str = Field(min_length=1, max_length=255)


class Team(TeamBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)

    heroes: list["Hero"] = Relationship(back_populates="team")


class TeamCreate(TeamBase):
    pass


class TeamUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    headquarters: str | None = Field(default=None, min_length=1, max_length=255)


class TeamPublic(TeamBase):
    id: int


# --- heroes ----------------------------------------------------------------------------------


class HeroBase(SQLModel):
    name: str = Field(min_length=1, max_length=100, index=True)
    secret_name: str = Field(min_length=1, max_length=100)
    age: int | None = Field(default=None, ge=0, le=10_000, index=True)
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)


class Hero(HeroBase, table=True):
    id: int | None = Field(default=None, primary_key=True)

    team: Team | None = Relationship(back_populates="heroes")


class HeroCreate(HeroBase):
    pass


class HeroUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    secret_name: str | None = Field(default=None, min_length=1, max_length=100)
    age: int | None = Field(default=None, ge=0, le=10_000)
    team_id: int | None = None


class HeroPublic(HeroBase):
    id: int


class HeroPublicWithTeam(HeroPublic):
    team: TeamPublic | None = None


class TeamPublicWithHeroes(TeamPublic):
    heroes: list[HeroPublic] = []


# --- audit trail -----------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuditEntry(SQLModel, table=True):
    """What happened to which hero; written after the response, by a background task.

    `hero_id` is deliberately not a foreign key: the trail outlives the heroes it mentions.
    """

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=50, index=True)
    hero_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


# --- responses that are not rows -------------------------------------------------------------


class Message(SQLModel):
    ok: bool = True


class DisbandResult(SQLModel):
    team_id: int
    heroes_released: int


class Stats(SQLModel):
    heroes: int
    teams: int
    heroes_without_team: int
    audit_entries: int
