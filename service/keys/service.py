"""Minting, revoking and resolving API keys."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, func, select

from service.common import utcnow
from service.enterprises.models import Enterprise
from service.errors import Conflict, InvalidInput, NotFound
from service.experts.models import Expert
from service.keys.models import AnyKeyCreate, ApiKey, ApiKeyCreated, ApiKeyPublic
from service.units.models import Unit


def digest(secret: str) -> str:
    """SHA-256 of a key; keys are 256-bit random tokens, so a fast hash suffices."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create(*, db_session: Session, key_in: AnyKeyCreate) -> ApiKeyCreated:
    """Mint a key bound to its role's party; the secret is returned once and stored only as a digest."""
    enterprise_id = getattr(key_in, "enterprise_id", None)
    expert_id = getattr(key_in, "expert_id", None)
    unit_id = getattr(key_in, "unit_id", None)
    if enterprise_id is not None and db_session.get(Enterprise, enterprise_id) is None:
        raise InvalidInput.field("body.enterprise_id", f"enterprise {enterprise_id} does not exist")
    if expert_id is not None and db_session.get(Expert, expert_id) is None:
        raise InvalidInput.field("body.expert_id", f"expert {expert_id} does not exist")
    if unit_id is not None and db_session.get(Unit, unit_id) is None:
        raise InvalidInput.field("body.unit_id", f"unit {unit_id} does not exist")
    secret = "em_" + secrets.token_urlsafe(32)
    key = ApiKey(
        digest=digest(secret),
        prefix=secret[:10],
        role=key_in.role,
        enterprise_id=enterprise_id,
        expert_id=expert_id,
        unit_id=unit_id,
        label=key_in.label,
    )
    db_session.add(key)
    db_session.commit()
    db_session.refresh(key)
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key).model_dump(), key=secret)


def revoke(*, db_session: Session, key_id: int) -> ApiKeyPublic:
    """Revoke a key; revoking twice answers 409."""
    key = db_session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"key {key_id} does not exist")
    if key.revoked_at is not None:
        raise Conflict(f"key {key_id} is already revoked", code="key-already-revoked")
    key.revoked_at = utcnow()
    db_session.add(key)
    db_session.commit()
    db_session.refresh(key)
    return ApiKeyPublic.model_validate(key)


def list_keys(*, db_session: Session, limit: int, offset: int) -> tuple[list[ApiKeyPublic], int]:
    """Keys' metadata, newest last."""
    total = db_session.exec(select(func.count()).select_from(ApiKey)).one()
    rows = db_session.exec(select(ApiKey).order_by(ApiKey.id).offset(offset).limit(limit)).all()
    return [ApiKeyPublic.model_validate(r) for r in rows], total


def find_live(*, db_session: Session, secret: str) -> ApiKey | None:
    """The unrevoked key with this secret, if any."""
    key = db_session.exec(select(ApiKey).where(ApiKey.digest == digest(secret))).first()
    return key if key is not None and key.revoked_at is None else None
