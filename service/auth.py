"""Authentication by Bearer key and the typed principal dependencies routes declare."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.body import raise_deferred_body_errors
from service.db import SessionDep
from service.errors import Forbidden, Unauthorized
from service.keys import service as keys_service
from service.keys.models import Role
from service.security import client_of, throttle_of

_bearer = HTTPBearer(auto_error=False, description="API key minted by POST /keys or EXPERTMATCH_ADMIN_KEY")


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an administrator, one enterprise, one specialist or one dispatching unit."""

    role: Role
    key_id: int | None
    enterprise_id: int | None = None
    expert_id: int | None = None
    unit_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def is_enterprise(self, enterprise_id: int | None) -> bool:
        """True when the caller is that enterprise."""
        return self.role is Role.enterprise and enterprise_id is not None and self.enterprise_id == enterprise_id

    def is_expert(self, expert_id: int | None) -> bool:
        """True when the caller is that specialist."""
        return self.role is Role.expert and expert_id is not None and self.expert_id == expert_id

    def is_unit(self, unit_id: int | None) -> bool:
        """True when the caller is that dispatching unit."""
        return self.role is Role.unit and unit_id is not None and self.unit_id == unit_id


async def authenticate(
    request: Request,
    db_session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Resolve the Bearer key to a principal, or answer 401. On the event loop: only a key that is not the
    environment's administrator key is looked up in the database, in a worker thread."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    secret = credentials.credentials
    # A client that sent too many wrong keys waits before any key of theirs is even looked at (no oracle meanwhile).
    throttle, client = throttle_of(request), client_of(request)
    throttle.check(client)
    admin_key = request.app.state.settings.admin_key
    if admin_key is not None and hmac.compare_digest(
        secret.encode("utf-8", "surrogatepass"), admin_key.get_secret_value().encode()
    ):
        return Principal(role=Role.admin, key_id=None)
    key = await run_in_threadpool(keys_service.find_live, db_session=db_session, secret=secret)
    if key is None:
        throttle.failed(client)
        raise Unauthorized("the API key is unknown or revoked")
    return Principal(
        role=Role(key.role),
        key_id=key.id,
        enterprise_id=key.enterprise_id,
        expert_id=key.expert_id,
        unit_id=key.unit_id,
    )


authenticate.resolves_principal = True  # type: ignore[attr-defined]  # see service.body


async def current_principal(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """The authenticated caller; then the body's strict-type errors, if any (401 comes before 422)."""
    raise_deferred_body_errors(request)
    return principal


async def require_admin(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """Let only administrators through (403 before the body's strict-type errors)."""
    if not principal.is_admin:
        raise Forbidden("only administrators may do this")
    raise_deferred_body_errors(request)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
