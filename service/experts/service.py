"""Specialist business rules: who may change what, lookup, listing, and personal data."""

from __future__ import annotations

from sqlalchemy import String, cast, or_
from sqlmodel import Session, col, select

from service.auth import Principal
from service.common import apply_patch, like_pattern
from service.enterprises.models import Enterprise
from service.errors import Forbidden, InvalidInput, NotFound
from service.experts.models import ADMIN_ONLY_FIELDS, Expert, ExpertCreate, ExpertPublic, ExpertUpdate
from service.pagination import fetch_page
from service.relationships import can_see_expert_contact, ensure_expert_change_allowed, ensure_expert_deletable
from service.units import service as units_service


def get(*, db_session: Session, expert_id: int) -> Expert:
    """The specialist, or 404."""
    expert = db_session.get(Expert, expert_id)
    if expert is None:
        raise NotFound(f"expert {expert_id} does not exist")
    return expert


def to_public(*, db_session: Session, expert: Expert, principal: Principal) -> ExpertPublic:
    """The profile as this caller may see it: contact and conflicts only for those entitled."""
    public = ExpertPublic.model_validate(expert)
    if not (principal.is_admin or principal.is_expert(expert.id)):
        public.conflicts = None
    if not can_see_expert_contact(db_session=db_session, principal=principal, expert_id=expert.id):
        public.contact = None
    return public


def list_experts(
    *,
    db_session: Session,
    limit: int,
    offset: int,
    region: str | None = None,
    origin: str | None = None,
    institution_type: str | None = None,
    active: bool | None = None,
    q: str | None = None,
    external_id: str | None = None,
    unit_id: int | None = None,
) -> tuple[list[Expert], int]:
    """A page of specialists in id order, filtered, with the total."""
    query = select(Expert)
    filters = {
        Expert.region: region,
        Expert.origin: origin,
        Expert.institution_type: institution_type,
        Expert.active: active,
        Expert.external_id: external_id,
        Expert.unit_id: unit_id,
    }
    for column, value in filters.items():
        if value is not None and value != "":
            query = query.where(column == value)
    if q:
        pattern = like_pattern(q)
        query = query.where(
            or_(
                col(Expert.name).ilike(pattern, escape="\\"),
                col(Expert.institution).ilike(pattern, escape="\\"),
                col(Expert.bio).ilike(pattern, escape="\\"),
                col(Expert.achievements).ilike(pattern, escape="\\"),
                cast(Expert.fields, String).ilike(pattern, escape="\\"),
                cast(Expert.keywords, String).ilike(pattern, escape="\\"),
            )
        )
    return fetch_page(db_session, query, order_by=Expert.id, limit=limit, offset=offset)


def check_conflicts_exist(*, db_session: Session, conflicts: list[int], field: str = "body.conflicts") -> None:
    """Every enterprise named as a conflict of interest must exist."""
    if not conflicts:
        return
    found = set(db_session.exec(select(Enterprise.id).where(col(Enterprise.id).in_(conflicts))).all())
    missing = [c for c in conflicts if c not in found]
    if missing:
        raise InvalidInput.field(field, f"no enterprise with id {', '.join(map(str, missing))}")


def build(*, db_session: Session, expert_in: ExpertCreate) -> Expert:
    """A new specialist from a validated body, not yet committed: the shared path of the API and imports."""
    check_conflicts_exist(db_session=db_session, conflicts=expert_in.conflicts)
    units_service.ensure_exists(db_session=db_session, unit_id=expert_in.unit_id)
    return Expert.model_validate(expert_in.model_dump(mode="json"))


def create(*, db_session: Session, expert_in: ExpertCreate) -> Expert:
    """Register a specialist."""
    expert = build(db_session=db_session, expert_in=expert_in)
    db_session.add(expert)
    db_session.commit()
    db_session.refresh(expert)
    return expert


def update(*, db_session: Session, expert: Expert, expert_in: ExpertUpdate, principal: Principal) -> Expert:
    """Change a profile: administrators anything, the specialist their own profile less the admin-only fields."""
    changes = expert_in.model_dump(mode="json", exclude_unset=True)
    if not principal.is_admin:
        if not principal.is_expert(expert.id):
            raise Forbidden("only administrators or the specialist themself may change this profile")
        locked = sorted(ADMIN_ONLY_FIELDS & changes.keys())
        if locked:
            raise Forbidden(
                f"only administrators may change {', '.join(locked)}",
                errors=[
                    {"field": f"body.{name}", "message": "set by administrators", "type": "forbidden"}
                    for name in locked
                ],
            )
    if changes.get("conflicts"):
        check_conflicts_exist(db_session=db_session, conflicts=changes["conflicts"])
    if changes.get("unit_id") is not None:
        units_service.ensure_exists(db_session=db_session, unit_id=changes["unit_id"])
    ensure_expert_change_allowed(db_session=db_session, expert_id=expert.id, changes=changes)
    apply_patch(expert, changes)
    db_session.add(expert)
    db_session.commit()
    db_session.refresh(expert)
    return expert


def delete(*, db_session: Session, expert: Expert) -> None:
    """Delete a specialist, refused while they have live engagements."""
    ensure_expert_deletable(db_session=db_session, expert_id=expert.id)
    db_session.delete(expert)
    db_session.commit()
