"""The web console's pages: each calls the REST API with the signed-in party's key and renders the answer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile

from service.auth import Principal
from service.console.charts import bar_chart
from service.console.i18n import LANGUAGES, pick_language, translator, value_label
from service.console.session import (
    CSRF_COOKIE,
    FLASH_COOKIE,
    KEY_COOKIE,
    LANG_COOKIE,
    SESSION_SECONDS,
    Api,
    ApiError,
    Flash,
    clear_cookie,
    csrf_ok,
    csrf_token,
    resolve_principal,
    set_cookie,
)
from service.demands.models import CLIENT_TRANSITIONS, DemandCategory, DemandStatus, Origin
from service.engagements.models import TRANSITIONS, EngagementStatus
from service.engagements.service import MOVES

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
PAGE = 20
SUGGESTIONS_PAGE = 10
LOOKUP_LIMIT = 60  # names looked up for one page at most (ids beyond it are shown as #id)
LIST_SPLIT = re.compile(r"[,，、;；\n\r]+")

# Everything from this server; inline style attributes draw the score bars; no inline script at all.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    """No (or no longer a valid) key: go to the sign-in page."""

    def __init__(self, next_url: str, expired: bool = False) -> None:
        self.next_url = next_url
        self.expired = expired


@dataclass(slots=True)
class Console:
    """One console request: the party, their API client, the language and the CSRF token."""

    request: Request
    lang: str
    principal: Principal | None
    api: Api | None
    csrf: str
    new_csrf: bool
    flash: Flash | None
    display_name: str = ""
    extra_cookies: dict[str, str] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.principal.role.value if self.principal else ""

    @property
    def t(self) -> Any:
        return translator(self.lang)

    def need_api(self) -> Api:
        if self.api is None:
            raise SignInRequired(str(self.request.url.path))
        return self.api

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Render a page with the frame's context; sets the CSRF cookie and consumes the flash."""
        response = TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "c": self,
                "t": translator(self.lang),
                "label": value_label(self.lang),
                "lang": self.lang,
                "languages": LANGUAGES,
                "role": self.role,
                "principal": self.principal,
                "csrf": self.csrf,
                "flash": self.flash,
                "path": self.request.url.path,
                "query": str(self.request.url.query),
                **context,
            },
            status_code=status_code,
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = CONSOLE_CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if self.new_csrf:
            set_cookie(self.request, response, CSRF_COOKIE, self.csrf)
        # Only a flash that came in a cookie is cleared; one made for this very page never was set.
        if self.flash is not None and self.request.cookies.get(FLASH_COOKIE):
            response.delete_cookie(FLASH_COOKIE, path="/console")
        return response

    def redirect(self, url: str, flash: Flash | None = None) -> RedirectResponse:
        """See-other to a page, with a message shown once there."""
        response = RedirectResponse(url, status_code=303)
        if flash is not None:
            set_cookie(self.request, response, FLASH_COOKIE, flash.encode(), max_age=120)
        return response

    async def act(self, back: str, call: Awaitable[Any], ok: str | Callable[[Any], str]) -> RedirectResponse:
        """Make a form's one API call and go back to `back`, flashing its outcome (the API's refusal, verbatim)."""
        try:
            result = await call
        except ApiError as exc:
            return self.redirect(back, self.failed(exc))
        return self.redirect(back, self.ok(ok(result) if callable(ok) else ok))

    def ok(self, key: str) -> Flash:
        return Flash("ok", self.t(key))

    def failed(self, exc: ApiError) -> Flash:
        return Flash("error", f"{self.t('error')}: {exc.detail}", [_error_line(e) for e in exc.errors])


def _error_line(error: dict[str, Any]) -> str:
    where = str(error.get("field", "")).removeprefix("body.").removeprefix("query.")
    return f"{where}: {error.get('message', '')}" if where else str(error.get("message", ""))


async def console(request: Request) -> AsyncIterator[Console]:
    """The console request context; the API client is closed when the page is done."""
    lang = pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    token, new = csrf_token(request)
    key = request.cookies.get(KEY_COOKIE, "")
    principal = await resolve_principal(request, key) if key else None
    api = Api(request, key) if principal is not None else None
    flash = Flash.decode(request.cookies.get(FLASH_COOKIE))
    ctx = Console(request=request, lang=lang, principal=principal, api=api, csrf=token, new_csrf=new, flash=flash)
    request.state.console = ctx  # for the error page of an API refusal (install_console_handlers)
    if key and principal is None and request.url.path not in ("/console/login", "/console/logout"):
        raise SignInRequired(_here(request), expired=True)
    try:
        yield ctx
    finally:
        if api is not None:
            await api.close()


async def signed_in(ctx: Annotated[Console, Depends(console)]) -> Console:
    """A console request by a signed-in party (else to the sign-in page)."""
    if ctx.principal is None or ctx.api is None:
        raise SignInRequired(_here(ctx.request))
    await _load_display_name(ctx)
    return ctx


Ctx = Annotated[Console, Depends(console)]
Signed = Annotated[Console, Depends(signed_in)]


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.url.path}{query}" if request.method == "GET" else "/console"


def _safe_next(url: str | None) -> str:
    """Only console paths are followed after sign-in (no open redirect)."""
    if url and url.startswith("/console") and not url.startswith("//") and "\\" not in url:
        return url
    return "/console"


async def _load_display_name(ctx: Console) -> None:
    principal, api = ctx.principal, ctx.api
    assert principal is not None and api is not None
    try:
        if principal.enterprise_id is not None:
            ctx.display_name = (await api.get(f"/enterprises/{principal.enterprise_id}"))["name"]
        elif principal.expert_id is not None:
            ctx.display_name = (await api.get(f"/experts/{principal.expert_id}"))["name"]
    except ApiError:
        ctx.display_name = ""


async def _form(ctx: Console) -> FormData:
    """The posted form, after checking its CSRF token and origin."""
    form = await ctx.request.form()
    token = form.get("csrf")
    if not csrf_ok(ctx.request, token if isinstance(token, str) else None):
        raise CsrfFailed()
    return form


class CsrfFailed(Exception):
    """A form post without the right CSRF token or from another origin."""


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _terms(text: str) -> list[str]:
    return [part.strip() for part in LIST_SPLIT.split(text) if part.strip()]


def _ids(text: str) -> list[int] | str:
    """Ids typed as '3, 5 8'; the text itself when a part is not a number (the API then names the field)."""
    parts = [p for p in re.split(r"[\s,，、;；]+", text) if p]
    return [int(p) for p in parts] if all(p.isdigit() and len(p) < 19 for p in parts) else text


def _int_or_text(text: str) -> int | str | None:
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() and len(text) < 19 else text


def _number(text: str) -> float | str | None:
    """A typed number as a JSON number (the API's strict body types), else the text for the API to name."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return value if value == value and abs(value) != float("inf") else text


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


def _pager(request: Request, page: dict[str, Any]) -> dict[str, Any]:
    """Links to the previous and next page of an API list envelope, keeping the other query parameters."""
    total, limit, offset = page.get("total", 0), page.get("limit", PAGE), page.get("offset", 0)
    params = {k: v for k, v in request.query_params.items() if k != "offset"}

    def link(to: int) -> str:
        return f"{request.url.path}?{urlencode({**params, 'offset': to})}"

    return {
        "total": total,
        "start": offset + 1 if total else 0,
        "end": min(offset + limit, total),
        "prev": link(max(0, offset - limit)) if offset > 0 else None,
        "next": link(offset + limit) if offset + limit < total else None,
    }


async def _names(api: Api, kind: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Records by id for display (title/name), skipping what the caller may not see."""
    out: dict[int, dict[str, Any]] = {}
    for rid in sorted(set(ids))[:LOOKUP_LIMIT]:
        try:
            out[rid] = await api.get(f"/{kind}/{rid}")
        except ApiError:
            continue
    return out


def _home(principal: Principal) -> str:
    return {
        "admin": "/console/stats",
        "enterprise": "/console/demands",
        "expert": "/console/suggestions",
    }.get(principal.role.value, "/console/engagements")


def install_console_handlers(app: Any) -> None:
    """Send signed-out visitors to the sign-in page and stale forms back with a message."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        query = urlencode({"next": exc.next_url, **({"expired": "1"} if exc.expired else {})})
        response = RedirectResponse(f"/console/login?{query}", status_code=303)
        if exc.expired:
            clear_cookie(request, response, KEY_COOKIE)
        return response

    @app.exception_handler(ApiError)
    async def _refused(request: Request, exc: ApiError) -> Response:
        # A page the party opened whose record the API refuses (not found, not theirs): the error page, same status.
        ctx: Console = request.state.console
        return ctx.render("error.html", status_code=exc.status, error=exc)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        lang = pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
        return HTMLResponse(
            f"<!doctype html><meta charset='utf-8'><title>403</title><p>{translator(lang)('csrf_failed')}</p>"
            f"<p><a href='/console'>expertmatch</a></p>",
            status_code=403,
        )


# --- sign-in, language ------------------------------------------------------------------------------------------


@router.get("")
async def home(ctx: Ctx) -> Response:
    if ctx.principal is None:
        return ctx.redirect("/console/login")
    return ctx.redirect(_home(ctx.principal))


@router.get("/login")
async def login_page(ctx: Ctx) -> Response:
    expired = ctx.request.query_params.get("expired") == "1"
    flash = Flash("error", ctx.t("session_expired")) if expired else ctx.flash
    ctx.flash = flash
    return ctx.render("login.html", next=_safe_next(ctx.request.query_params.get("next")))


@router.post("/login")
async def login(ctx: Ctx) -> Response:
    form = await _form(ctx)
    key = _text(form, "key")
    principal = await resolve_principal(ctx.request, key)
    if principal is None:
        ctx.flash = Flash("error", ctx.t("bad_key"))
        return ctx.render("login.html", status_code=401, next=_safe_next(_text(form, "next")))
    target = _safe_next(_text(form, "next"))
    response = ctx.redirect(_home(principal) if target == "/console" else target)
    set_cookie(ctx.request, response, KEY_COOKIE, key, max_age=SESSION_SECONDS)
    # A fresh CSRF token on sign-in, so a token planted before it is worthless.
    set_cookie(ctx.request, response, CSRF_COOKIE, csrf_token(_no_cookies(ctx.request))[0])
    return response


def _no_cookies(request: Request) -> Request:
    scope = dict(request.scope)
    scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"cookie"]
    return Request(scope)


@router.post("/logout")
async def logout(ctx: Ctx) -> Response:
    await _form(ctx)
    response = ctx.redirect("/console/login")
    for name in (KEY_COOKIE, CSRF_COOKIE):
        clear_cookie(ctx.request, response, name)
    return response


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str) -> Response:
    """Remember the language (a preference only: no data changes, so a plain link will do)."""
    target = _safe_next(request.query_params.get("next"))
    response = RedirectResponse(target, status_code=303)
    if lang in LANGUAGES:
        set_cookie(request, response, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response


# --- demands ----------------------------------------------------------------------------------------------------


DEMAND_FILTERS = ("status", "q", "region", "industry", "category", "enterprise_id")


@router.get("/demands")
async def demands_page(ctx: Signed) -> Response:
    api = ctx.need_api()
    params = {k: ctx.request.query_params.get(k) for k in DEMAND_FILTERS}
    if ctx.principal is not None and ctx.principal.enterprise_id is not None:
        # "My demands": the API also lists other enterprises' open demands to an enterprise.
        params["enterprise_id"] = str(ctx.principal.enterprise_id)
    try:
        page = await api.get("/demands", limit=PAGE, offset=_offset(ctx.request), **params)
    except ApiError as exc:
        page = {"items": [], "total": 0, "limit": PAGE, "offset": 0}
        ctx.flash = ctx.failed(exc)
    enterprises = await _names(api, "enterprises", [d["enterprise_id"] for d in page["items"]])
    return ctx.render(
        "demands.html",
        page=page,
        pager=_pager(ctx.request, page),
        enterprises=enterprises,
        filters=params,
        statuses=[s.value for s in DemandStatus],
        categories=[c.value for c in DemandCategory],
    )


def _demand_body(form: FormData, *, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": _text(form, "title"),
        "description": _text(form, "description"),
        "category": _text(form, "category") or "technology",
        "industry": _text(form, "industry"),
        "keywords": _terms(_text(form, "keywords")),
        "region": _text(form, "region"),
        "on_site": form.get("on_site") == "on",
        "headcount": _int_or_text(_text(form, "headcount")) or 1,
        "accepted_origins": [o for o in form.getlist("accepted_origins") if isinstance(o, str)],
        "term_months": _int_or_text(_text(form, "term_months")) or 12,
        "budget_cny": _int_or_text(_text(form, "budget_cny")),
        "deadline": _text(form, "deadline") or None,
    }
    if creating:
        body["enterprise_id"] = _int_or_text(_text(form, "enterprise_id"))
        body["status"] = "draft" if _text(form, "status") == "draft" else "open"
        for name in ("budget_cny", "deadline"):
            if body[name] is None:
                del body[name]
        if not body["region"]:
            del body["region"]  # the enterprise's region
    return body


def _form_context(ctx: Console) -> dict[str, Any]:
    return {"categories": [c.value for c in DemandCategory], "origins": [o.value for o in Origin]}


@router.get("/demands/new")
async def new_demand_page(ctx: Signed) -> Response:
    draft = {"enterprise_id": ctx.principal.enterprise_id if ctx.principal else None, "headcount": 1}
    return ctx.render("demand_form.html", demand=draft, errors=[], **_form_context(ctx))


@router.post("/demands")
async def create_demand(ctx: Signed) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    body = _demand_body(form, creating=True)
    if ctx.principal and ctx.principal.enterprise_id is not None:
        body["enterprise_id"] = ctx.principal.enterprise_id
    try:
        demand = await api.post("/demands", body)
    except ApiError as exc:
        ctx.flash = ctx.failed(exc)
        shown = {**body, "keywords": body.get("keywords", [])}
        return ctx.render(
            "demand_form.html", status_code=exc.status, demand=shown, errors=exc.errors, **_form_context(ctx)
        )
    return ctx.redirect(f"/console/demands/{demand['id']}", ctx.ok("demand_created"))


@router.get("/demands/{demand_id}")
async def demand_page(ctx: Signed, demand_id: int) -> Response:
    api = ctx.need_api()
    demand = await api.get(f"/demands/{demand_id}")
    include_excluded = ctx.request.query_params.get("include_excluded") == "1"
    offset = _offset(ctx.request)
    suggestions: dict[str, Any] = {"items": [], "total": 0, "limit": SUGGESTIONS_PAGE, "offset": 0}
    suggestion_error = None
    if demand["status"] == DemandStatus.open.value:
        try:
            suggestions = await api.get(
                f"/demands/{demand_id}/suggestions",
                limit=SUGGESTIONS_PAGE,
                offset=offset,
                include_excluded="true" if include_excluded else None,
            )
        except ApiError as exc:
            suggestion_error = exc
    interests = await _optional(api, f"/demands/{demand_id}/interests", limit=100)
    engagements = await _optional(api, "/engagements", demand_id=demand_id, limit=100)
    experts = await _names(
        api, "experts", [i["expert_id"] for i in interests["items"]] + [e["expert_id"] for e in engagements["items"]]
    )
    enterprise = (await _names(api, "enterprises", [demand["enterprise_id"]])).get(demand["enterprise_id"])
    reviews = await _optional(api, f"/demands/{demand_id}/reviews", limit=100)
    settings = getattr(ctx.request.app.state, "settings", None)
    principal = ctx.principal
    assert principal is not None
    return ctx.render(
        "demand.html",
        demand=demand,
        # Display only: the API refuses changes by anyone else anyway (demands.service.ensure_can_change).
        owner=principal.is_admin or principal.is_enterprise(demand["enterprise_id"]),
        enterprise=enterprise,
        moves=sorted(s.value for s in CLIENT_TRANSITIONS.get(DemandStatus(demand["status"]), ())),
        # With review on (SPEC 7.1) an enterprise's draft goes to review instead of straight to open.
        review=bool(getattr(settings, "demand_review", False)),
        reviews=reviews,
        suggestions=suggestions,
        suggestion_pager=_pager(ctx.request, suggestions),
        suggestion_error=suggestion_error,
        include_excluded=include_excluded,
        interests=interests,
        engagements=engagements,
        experts=experts,
        errors=[],
        **_form_context(ctx),
    )


async def _optional(api: Api, path: str, **params: Any) -> dict[str, Any]:
    """A list the party may or may not be allowed to read: empty when the API refuses."""
    try:
        return await api.get(path, **params)
    except ApiError:
        return {"items": [], "total": 0, "limit": params.get("limit", PAGE), "offset": 0}


@router.post("/demands/{demand_id}/edit")
async def edit_demand(ctx: Signed, demand_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)

    async def patch_changed_fields() -> None:
        current = await api.get(f"/demands/{demand_id}")
        wanted = _demand_body(form, creating=False)
        changes = {k: v for k, v in wanted.items() if current.get(k) != v}
        if changes:
            await api.patch(f"/demands/{demand_id}", changes)

    return await ctx.act(f"/console/demands/{demand_id}", patch_changed_fields(), "demand_updated")


@router.post("/demands/{demand_id}/status")
async def move_demand(ctx: Signed, demand_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    return await ctx.act(
        f"/console/demands/{demand_id}",
        api.patch(f"/demands/{demand_id}", {"status": _text(form, "status")}),
        "status_changed",
    )


@router.post("/demands/{demand_id}/submit")
async def submit_demand(ctx: Signed, demand_id: int) -> Response:
    api = ctx.need_api()
    await _form(ctx)
    return await ctx.act(
        f"/console/demands/{demand_id}", api.post(f"/demands/{demand_id}/submit"), "submitted_for_review"
    )


@router.post("/demands/{demand_id}/review")
async def review_demand(ctx: Signed, demand_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    body = {"decision": _text(form, "decision"), "comment": _text(form, "comment")}
    return await ctx.act(
        f"/console/demands/{demand_id}", api.post(f"/demands/{demand_id}/review", body), "status_changed"
    )


@router.post("/demands/{demand_id}/select")
async def select_expert(ctx: Signed, demand_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    back = _safe_next(_text(form, "next")) if _text(form, "next") else f"/console/demands/{demand_id}"
    return await ctx.act(
        back,
        api.post(f"/demands/{demand_id}/selections", {"expert_id": _int_or_text(_text(form, "expert_id"))}),
        "selected",
    )


def _interest_outcome(result: dict[str, Any]) -> str:
    return "interest_matched" if result.get("engagement") else "interest_recorded"


@router.post("/demands/{demand_id}/interest")
async def demand_interest(ctx: Signed, demand_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    back = _safe_next(_text(form, "next")) if _text(form, "next") else f"/console/demands/{demand_id}"
    body = {"expert_id": _int_or_text(_text(form, "expert_id"))}
    return await ctx.act(back, api.post(f"/demands/{demand_id}/interests", body), _interest_outcome)


@router.post("/demands/{demand_id}/interests/{expert_id}/withdraw")
async def demand_withdraw(ctx: Signed, demand_id: int, expert_id: int) -> Response:
    api = ctx.need_api()
    await _form(ctx)
    return await ctx.act(
        f"/console/demands/{demand_id}", api.delete(f"/demands/{demand_id}/interests/{expert_id}"), "interest_withdrawn"
    )


# --- specialists ------------------------------------------------------------------------------------------------


@router.get("/suggestions")
async def my_suggestions(ctx: Signed) -> Response:
    if ctx.principal is None or ctx.principal.expert_id is None:
        return ctx.redirect("/console")
    return await _expert_page(ctx, ctx.principal.expert_id)


@router.get("/experts/{expert_id}")
async def expert_page(ctx: Signed, expert_id: int) -> Response:
    return await _expert_page(ctx, expert_id)


async def _expert_page(ctx: Console, expert_id: int) -> Response:
    api = ctx.need_api()
    expert = await api.get(f"/experts/{expert_id}")
    include_excluded = ctx.request.query_params.get("include_excluded") == "1"
    suggestion_error = None
    try:
        suggestions = await api.get(
            f"/experts/{expert_id}/suggestions",
            limit=SUGGESTIONS_PAGE,
            offset=_offset(ctx.request),
            include_excluded="true" if include_excluded else None,
        )
    except ApiError as exc:
        suggestions = {"items": [], "total": 0, "limit": SUGGESTIONS_PAGE, "offset": 0}
        suggestion_error = exc
    interests = await _optional(api, f"/experts/{expert_id}/interests", limit=100)
    return ctx.render(
        "expert.html",
        expert=expert,
        suggestions=suggestions,
        suggestion_pager=_pager(ctx.request, suggestions),
        suggestion_error=suggestion_error,
        include_excluded=include_excluded,
        interested={i["demand_id"] for i in interests["items"] if i["side"] == "expert"},
    )


@router.post("/experts/{expert_id}/interest")
async def expert_interest(ctx: Signed, expert_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    back = _safe_next(_text(form, "next"))
    body = {"demand_id": _int_or_text(_text(form, "demand_id"))}
    return await ctx.act(back, api.post(f"/experts/{expert_id}/interests", body), _interest_outcome)


@router.get("/interests")
async def my_interests(ctx: Signed) -> Response:
    api = ctx.need_api()
    if ctx.principal is None or ctx.principal.expert_id is None:
        return ctx.redirect("/console")
    expert_id = ctx.principal.expert_id
    page = await api.get(f"/experts/{expert_id}/interests", limit=PAGE, offset=_offset(ctx.request))
    demands = await _names(api, "demands", [i["demand_id"] for i in page["items"]])
    pager = _pager(ctx.request, page)
    return ctx.render("interests.html", page=page, pager=pager, demands=demands, expert_id=expert_id)


@router.post("/experts/{expert_id}/interests/{demand_id}/withdraw")
async def expert_withdraw(ctx: Signed, expert_id: int, demand_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    back = _safe_next(_text(form, "next"))
    return await ctx.act(back, api.delete(f"/experts/{expert_id}/interests/{demand_id}"), "interest_withdrawn")


# --- engagements ------------------------------------------------------------------------------------------------


def _actions(principal: Principal | None, engagement: dict[str, Any]) -> list[str]:
    """The moves the engagement's lifecycle allows now that this party may make (the domain's own tables)."""
    if principal is None:
        return []
    status = EngagementStatus(engagement["status"])
    allowed = TRANSITIONS.get(status, frozenset())
    out = []
    for action, spec in MOVES.items():
        target, parties = spec[0], spec[2]
        source = spec[3] if len(spec) > 3 else None  # the state the move starts from, where the table names it
        if source is not None and source != status:
            continue
        if target in allowed and (principal.is_admin or principal.role.value in parties):
            out.append(action)
    return out


@router.get("/engagements")
async def engagements_page(ctx: Signed) -> Response:
    api = ctx.need_api()
    status = ctx.request.query_params.get("status")
    page = await api.get("/engagements", limit=PAGE, offset=_offset(ctx.request), status=status)
    demands = await _names(api, "demands", [e["demand_id"] for e in page["items"]])
    experts = await _names(api, "experts", [e["expert_id"] for e in page["items"]])
    offers = []
    if ctx.role == "expert":
        offers = (await _optional(api, "/engagements", status="offered", limit=100))["items"]
        demands.update(await _names(api, "demands", [e["demand_id"] for e in offers if e["demand_id"] not in demands]))
    return ctx.render(
        "engagements.html",
        page=page,
        pager=_pager(ctx.request, page),
        demands=demands,
        experts=experts,
        offers=offers,
        status=status or "",
        statuses=[s.value for s in EngagementStatus],
        actions={e["id"]: _actions(ctx.principal, e) for e in [*page["items"], *offers]},
    )


@router.get("/engagements/{engagement_id}")
async def engagement_page(ctx: Signed, engagement_id: int) -> Response:
    api = ctx.need_api()
    engagement = await api.get(f"/engagements/{engagement_id}")
    logs = await _optional(api, f"/engagements/{engagement_id}/logs", limit=100)
    demand = (await _names(api, "demands", [engagement["demand_id"]])).get(engagement["demand_id"])
    expert = (await _names(api, "experts", [engagement["expert_id"]])).get(engagement["expert_id"])
    return ctx.render(
        "engagement.html",
        engagement=engagement,
        logs=logs,
        demand=demand,
        expert=expert,
        actions=_actions(ctx.principal, engagement),
        today=datetime.now(UTC).date().isoformat(),
    )


@router.post("/engagements/{engagement_id}/move")
async def move_engagement(ctx: Signed, engagement_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    action = _text(form, "action")
    back = _safe_next(_text(form, "next")) if _text(form, "next") else f"/console/engagements/{engagement_id}"
    if action not in MOVES:
        return ctx.redirect(back, Flash("error", f"{ctx.t('error')}: {action!r}"))
    return await ctx.act(
        back, api.post(f"/engagements/{engagement_id}/{action}", {"reason": _text(form, "reason")}), "engagement_moved"
    )


@router.post("/engagements/{engagement_id}/logs")
async def log_service(ctx: Signed, engagement_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    body = {
        "date": _text(form, "date") or None,
        "hours": _number(_text(form, "hours")),
        "summary": _text(form, "summary"),
    }
    return await ctx.act(
        f"/console/engagements/{engagement_id}", api.post(f"/engagements/{engagement_id}/logs", body), "log_added"
    )


@router.post("/engagements/{engagement_id}/rating")
async def rate_engagement(ctx: Signed, engagement_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    body = {"rating": _int_or_text(_text(form, "rating")), "comment": _text(form, "comment")}
    return await ctx.act(
        f"/console/engagements/{engagement_id}", api.post(f"/engagements/{engagement_id}/rating", body), "rated"
    )


# --- administrators: repositories and import --------------------------------------------------------------------

REPOSITORIES: dict[str, tuple[str, ...]] = {
    "demands": DEMAND_FILTERS,
    "experts": ("q", "region", "origin", "institution_type", "active"),
    "enterprises": ("q", "region", "industry", "size"),
}


@router.get("/repositories/{kind}")
async def repository_page(ctx: Signed, kind: str) -> Response:
    if kind == "demands":
        return await demands_page(ctx)
    if kind not in REPOSITORIES:
        return ctx.redirect("/console/repositories/experts")
    api = ctx.need_api()
    params = {k: ctx.request.query_params.get(k) for k in REPOSITORIES[kind]}
    try:
        page = await api.get(f"/{kind}", limit=PAGE, offset=_offset(ctx.request), **params)
    except ApiError as exc:
        page = {"items": [], "total": 0, "limit": PAGE, "offset": 0}
        ctx.flash = ctx.failed(exc)
    return ctx.render(
        "repository.html",
        kind=kind,
        page=page,
        pager=_pager(ctx.request, page),
        filters=params,
        origins=[o.value for o in Origin],
    )


@router.get("/import")
async def import_page(ctx: Signed) -> Response:
    return ctx.render("import.html", report=None)


@router.post("/import")
async def import_upload(ctx: Signed) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    upload = form.get("file")
    kind = _text(form, "kind")
    if not isinstance(upload, UploadFile):
        ctx.flash = Flash("error", f"{ctx.t('error')}: {ctx.t('file')}")
        return ctx.render("import.html", status_code=422, report=None)
    content = await upload.read()
    try:
        report = await api.post(
            f"/imports/{kind}",
            params={"atomic": "true" if form.get("atomic") == "on" else "false"},
            files={"file": (upload.filename or "upload", content, upload.content_type or "application/octet-stream")},
        )
    except ApiError as exc:
        ctx.flash = ctx.failed(exc)
        return ctx.render("import.html", status_code=exc.status, report=None)
    summary = ctx.t("import_summary", created=report["created"], updated=report["updated"], bad=len(report["errors"]))
    if report["errors"] and not report["committed"]:
        summary = f"{summary} {ctx.t('import_nothing_written')}"
    ctx.flash = Flash("ok" if not report["errors"] else "error", summary)
    return ctx.render("import.html", report=report)


# --- rounds -----------------------------------------------------------------------------------------------------


@router.get("/rounds")
async def rounds_page(ctx: Signed) -> Response:
    api = ctx.need_api()
    page = await api.get("/rounds", limit=PAGE, offset=_offset(ctx.request))
    return ctx.render("rounds.html", page=page, pager=_pager(ctx.request, page), draft={})


@router.post("/rounds")
async def open_round(ctx: Signed) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    body: dict[str, Any] = {
        "name": _text(form, "name"),
        "demand_ids": _ids(_text(form, "demand_ids")),
        "expert_ids": _ids(_text(form, "expert_ids")),
        "proposing": _text(form, "proposing") or "experts",
    }
    if _text(form, "deadline"):
        body["deadline"] = _text(form, "deadline")
    try:
        created = await api.post("/rounds", body)
    except ApiError as exc:
        ctx.flash = ctx.failed(exc)
        page = await _optional(api, "/rounds", limit=PAGE)
        return ctx.render(
            "rounds.html", status_code=exc.status, page=page, pager=_pager(ctx.request, page), draft=dict(form)
        )
    return ctx.redirect(f"/console/rounds/{created['id']}", ctx.ok("round_opened"))


@router.get("/rounds/{round_id}")
async def round_page(ctx: Signed, round_id: int) -> Response:
    api = ctx.need_api()
    rnd = await api.get(f"/rounds/{round_id}")
    demands = await _names(api, "demands", rnd["demand_ids"])
    experts = await _names(api, "experts", rnd["expert_ids"])
    principal = ctx.principal
    assert principal is not None
    # Which rank lists this party may submit is the API's rule; show a form for those the API would accept.
    demand_forms = [
        d
        for d in rnd["demand_ids"]
        if principal.is_admin or (d in demands and principal.is_enterprise(demands[d]["enterprise_id"]))
    ]
    expert_forms = [x for x in rnd["expert_ids"] if principal.is_admin or principal.is_expert(x)]
    return ctx.render(
        "round.html",
        rnd=rnd,
        demands=demands,
        experts=experts,
        demand_forms=demand_forms,
        expert_forms=expert_forms,
    )


@router.post("/rounds/{round_id}/preferences/{side}/{party_id}")
async def rank(ctx: Signed, round_id: int, side: str, party_id: int) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    if side not in ("demands", "experts"):
        return ctx.redirect(f"/console/rounds/{round_id}", Flash("error", ctx.t("error")))
    return await ctx.act(
        f"/console/rounds/{round_id}",
        api.put(f"/rounds/{round_id}/preferences/{side}/{party_id}", _ids(_text(form, "ranking"))),
        "ranking_saved",
    )


@router.post("/rounds/{round_id}/close")
async def close_round(ctx: Signed, round_id: int) -> Response:
    api = ctx.need_api()
    await _form(ctx)
    return await ctx.act(f"/console/rounds/{round_id}", api.post(f"/rounds/{round_id}/close"), "round_closed")


# --- assignments ------------------------------------------------------------------------------------------------


@router.get("/assignments")
async def assignments_page(ctx: Signed) -> Response:
    api = ctx.need_api()
    page = await api.get("/assignments", limit=PAGE, offset=_offset(ctx.request))
    return ctx.render("assignments.html", page=page, pager=_pager(ctx.request, page))


@router.post("/assignments")
async def run_assignment(ctx: Signed) -> Response:
    api = ctx.need_api()
    form = await _form(ctx)
    body: dict[str, Any] = {}
    if _text(form, "demand_ids"):
        body["demand_ids"] = _ids(_text(form, "demand_ids"))
    for name in ("region", "industry"):
        if _text(form, name):
            body[name] = _text(form, name)
    if _text(form, "candidates_per_demand"):
        body["candidates_per_demand"] = _int_or_text(_text(form, "candidates_per_demand"))
    try:
        created = await api.post("/assignments", body)
    except ApiError as exc:
        return ctx.redirect("/console/assignments", ctx.failed(exc))
    return ctx.redirect(f"/console/assignments/{created['id']}", ctx.ok("assignment_run"))


@router.get("/assignments/{assignment_id}")
async def assignment_page(ctx: Signed, assignment_id: int) -> Response:
    api = ctx.need_api()
    assignment = await api.get(f"/assignments/{assignment_id}")
    pairs = assignment["result"]["pairs"]
    demands = await _names(api, "demands", [p["demand_id"] for p in pairs] + assignment["result"]["uncovered_demands"])
    experts = await _names(api, "experts", [p["expert_id"] for p in pairs])
    offered = {
        f"{o['demand_id']}-{o['expert_id']}": o.get("engagement_id")
        for o in (assignment.get("offers") or {}).get("created", [])
    }
    return ctx.render("assignment.html", a=assignment, demands=demands, experts=experts, offered=offered)


@router.post("/assignments/{assignment_id}/offers")
async def make_offers(ctx: Signed, assignment_id: int) -> Response:
    api = ctx.need_api()
    await _form(ctx)
    return await ctx.act(
        f"/console/assignments/{assignment_id}", api.post(f"/assignments/{assignment_id}/offers"), "offers_made"
    )


# --- figures ----------------------------------------------------------------------------------------------------


@router.get("/stats")
async def stats_page(ctx: Signed) -> Response:
    api = ctx.need_api()
    stats = await api.get("/stats")
    label = value_label(ctx.lang)
    t = ctx.t
    status_order = {s.value: i for i, s in enumerate(DemandStatus)}
    charts = [
        (
            "demands_by_status",
            bar_chart(
                dict(sorted(stats["demands"]["by_status"].items(), key=lambda kv: status_order.get(kv[0], 99))),
                title=t("demands_by_status"),
                label=label,
                sort=False,
            ),
        ),
        ("demands_by_region", bar_chart(stats["demands"]["by_region"], title=t("demands_by_region"))),
        ("demands_by_industry", bar_chart(stats["demands"]["by_industry"], title=t("demands_by_industry"))),
        ("experts_by_origin", bar_chart(stats["experts"]["by_origin"], title=t("experts_by_origin"), label=label)),
        (
            "experts_by_load",
            bar_chart(stats["experts"]["by_load"], title=t("experts_by_load"), sort=False),
        ),
        (
            "engagements_by_mode",
            bar_chart(stats["engagements"]["by_mode"], title=t("engagements_by_mode"), label=label),
        ),
        (
            "engagements_by_status",
            bar_chart(stats["engagements"]["by_status"], title=t("engagements_by_status"), label=label),
        ),
    ]
    return ctx.render("stats.html", stats=stats, charts=charts)
