from uuid import UUID, uuid4

from sqlalchemy import String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Profile(Base):
    __tablename__ = "profiles"

    # uuid4 on every database; the migration adds gen_random_uuid() as the server default on
    # PostgreSQL only, since SQLite and MariaDB have no such function.
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, default=uuid4)
    name: Mapped[str] = mapped_column(String(255))
