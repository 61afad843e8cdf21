# expect: none
# SQLModel's Relationship loaded eagerly through sa_relationship_kwargs; a many-to-one is read
# from the session's identity map.
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, Relationship, SQLModel, select


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    heroes: list["Hero"] = Relationship(back_populates="team", sa_relationship_kwargs={"lazy": "selectin"})


class Hero(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    team: Team | None = Relationship(back_populates="heroes")


async def roll_call(session: AsyncSession, team_id: int) -> list[str]:
    team = (await session.exec(select(Team).where(Team.id == team_id))).one()
    return [f"{hero.id} of {hero.team.name if hero.team else '?'}" for hero in team.heroes]
