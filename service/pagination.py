"""The one list envelope and its bounded paging parameters."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlmodel import Session, func, select

T = TypeVar("T")

MAX_LIMIT = 200
MAX_OFFSET = 10_000_000


class Page(BaseModel, Generic[T]):
    """A page of a collection with the total count of matching records."""

    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    """Validated `limit` and `offset`."""

    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="records to skip")] = 0,
) -> PageParams:
    """Read paging from the query string."""
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


def fetch_page(db_session: Session, query: Any, *, order_by: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of a filtered query in a stable order, and the total number of rows it matches."""
    total = db_session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = db_session.exec(query.order_by(order_by).offset(offset).limit(limit)).all()
    return list(rows), total
