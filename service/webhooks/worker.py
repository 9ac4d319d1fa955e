"""The delivery worker: fans outbox events out to subscriptions, POSTs signed deliveries, retries with backoff,
and produces `deadline.approaching` (and `suggestion.new`) on its own schedule.

It runs as a thread in every service process (EXPERTMATCH_WEBHOOK_WORKER, default on) or alone
(`expertmatch worker`). Several of them share the work safely: rows are claimed with `SELECT … FOR UPDATE SKIP LOCKED`
on PostgreSQL (SQLite has one writer at a time), and a claimed delivery carries a lease, so a worker killed between
claim and answer leaves it to be sent again when the lease ends: at least once, never lost.

Ordering: a subscription's deliveries are first attempted in event order (the outbox id); a retried one may arrive
after later events. Each body carries the event's `id` and `created_at`: receivers order by them and drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from service.calls.models import Call, CallStatus
from service.common import _as_utc, utcnow
from service.config import Settings
from service.demands.models import Demand, DemandStatus
from service.events import service as events
from service.events.models import Event, EventType
from service.experts.models import Expert
from service.rounds.models import Round, RoundStatus
from service.webhooks.models import Delivery, DeliveryStatus, Webhook

log = logging.getLogger("expertmatch.webhooks")

SUGGESTION_WAIT = timedelta(minutes=10)  # how long a demand.published event waits for the matcher to learn its demand


class Explainer(Protocol):
    """The matcher's explained score of one pair, and whether it knows a demand yet."""

    def __call__(self, demand_id: int, expert_id: int) -> Any: ...

    def knows_demand(self, demand_id: int) -> bool: ...


LEASE = timedelta(seconds=120)
BATCH = 50


def sign(secret: str, body: bytes) -> str:
    """The X-Expertmatch-Signature header value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(event: Event) -> bytes:
    """The delivery body {"id", "type", "created_at", "data"}, UTF-8 JSON."""
    payload = {
        "id": event.id,
        "type": event.type,
        "created_at": _as_utc(event.created_at).isoformat(),
        "data": event.data,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _receives(webhook: Webhook, event: Event) -> bool:
    if event.type not in webhook.events:
        return False
    if webhook.owner_role == "admin":
        return True
    parties = event.parties or {}
    for kind, party_id in (
        ("enterprise", webhook.enterprise_id),
        ("expert", webhook.expert_id),
        ("unit", webhook.unit_id),
    ):
        if party_id is not None and party_id in parties.get(kind, []):
            return True
    return False


def backoff(attempts: int, base: float) -> timedelta:
    """Wait before the next try: base · 2^(attempts-1), at most an hour (10 s, 20 s, 40 s … with the default)."""
    return timedelta(seconds=min(base * 2 ** max(0, attempts - 1), 3600.0))


class DeliveryWorker:
    """Fan-out, delivery and schedule in one loop; `run_once` does one pass (tests call it directly)."""

    def __init__(
        self, engine: Engine, settings: Settings, explain: Callable[[Session], Explainer | None] | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.explain = explain
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_scan = 0.0
        self._skip_locked = engine.dialect.name == "postgresql"

    # --- the loop ---------------------------------------------------------------------------------------------

    def start(self) -> DeliveryWorker:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run_forever, name="webhook-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_forever(self) -> None:
        """Poll until stopped; an error is logged and the next pass tries again."""
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.run_once()
            except Exception:  # the loop must survive a database hiccup or a bad row
                log.exception("webhook worker pass failed")
            if not busy:
                self._stop.wait(self.settings.webhook_poll_seconds)

    def run_once(self, now: datetime | None = None) -> bool:
        """One pass: the deadline scan when due, fan-out, due deliveries. True when it did any work."""
        mono = datetime.now(UTC).timestamp()
        if mono - self._last_scan >= self.settings.deadline_scan_seconds:
            self._last_scan = mono
            self.scan_deadlines(now)
        fanned = self.fan_out()
        sent = self.deliver_due(now)
        return bool(fanned or sent)

    # --- fan-out ----------------------------------------------------------------------------------------------

    def _claim(self, query: Any) -> Any:
        query = query.with_for_update(skip_locked=True) if self._skip_locked else query.with_for_update()
        return query

    def fan_out(self) -> int:
        """Turn undispatched outbox events into one delivery per receiving subscription; returns events handled."""
        # The matcher catches up before the claim, in a session of its own: on SQLite the claim holds the one write
        # lock, and a catch-up inside it would wait on that lock (every SQLite transaction begins IMMEDIATE).
        explain = self._caught_up_explainer()
        with Session(self.engine) as db_session:
            batch = db_session.exec(
                self._claim(
                    select(Event).where(col(Event.dispatched_at).is_(None)).order_by(col(Event.id)).limit(BATCH)
                )
            ).all()
            if not batch:
                return 0
            hooks = db_session.exec(select(Webhook).order_by(col(Webhook.id))).all()
            now = utcnow()
            window = timedelta(hours=self.settings.webhook_retry_hours)
            handled = 0
            for event in batch:
                if event.type == EventType.demand_published.value and not self._suggest(
                    db_session, event, hooks, explain
                ):
                    break  # the matcher has not seen this demand yet: it and what follows wait for the next pass
                for hook in hooks:
                    if _receives(hook, event):
                        db_session.add(
                            Delivery(
                                webhook_id=hook.id,  # type: ignore[arg-type]
                                event_id=event.id,  # type: ignore[arg-type]
                                event_type=event.type,
                                next_attempt_at=now,
                                retry_until=now + window,
                            )
                        )
                event.dispatched_at = now
                db_session.add(event)
                handled += 1
            db_session.commit()
            return handled

    def _caught_up_explainer(self) -> Explainer | None:
        """The matcher's explainer, caught up with every committed change, when anyone subscribes to suggestion.new."""
        if self.explain is None:
            return None
        with Session(self.engine) as db_session:
            hooks = db_session.exec(select(Webhook.events, Webhook.owner_role)).all()
            if not any(
                EventType.suggestion_new.value in events_ and role in ("expert", "unit") for events_, role in hooks
            ):
                return None
            return self.explain(db_session)

    def _suggest(self, db_session: Session, event: Event, hooks: list[Webhook], explain: Explainer | None) -> bool:
        """`suggestion.new` for subscribed specialists (or their units) who score ≥ the threshold on the new demand;
        False when the matcher does not know the still-open demand yet (the event is then handled on a later pass)."""
        wanted = [h for h in hooks if EventType.suggestion_new.value in h.events and h.owner_role in ("expert", "unit")]
        if explain is None or not wanted:
            return True
        demand_id = int(event.data.get("demand", {}).get("id", 0))
        if not explain.knows_demand(demand_id):
            demand = db_session.get(Demand, demand_id)
            still_open = demand is not None and demand.status == DemandStatus.open.value
            # A demand closed since is no longer suggested; one the matcher never learns must not stall the outbox.
            waited = utcnow() - _as_utc(event.created_at)
            return not still_open or waited > SUGGESTION_WAIT
        expert_ids = {h.expert_id for h in wanted if h.expert_id is not None}
        unit_ids = {h.unit_id for h in wanted if h.unit_id is not None}
        if unit_ids:
            expert_ids |= set(db_session.exec(select(Expert.id).where(col(Expert.unit_id).in_(unit_ids))).all())
        for expert_id in sorted(i for i in expert_ids if i is not None):
            suggestion = explain(demand_id, expert_id)
            if suggestion is None or suggestion.excluded or suggestion.score < self.settings.suggestion_notify_score:
                continue
            expert = db_session.get(Expert, expert_id)
            events.record(
                db_session=db_session,
                type=EventType.suggestion_new,
                data={
                    "demand_id": demand_id,
                    "expert_id": expert_id,
                    "score": suggestion.score,
                    "matched_terms": list(suggestion.matched_terms),
                    "reasons": [{"code": r.code, "zh": r.zh, "en": r.en} for r in suggestion.reasons],
                },
                experts=[expert_id],
                units=[expert.unit_id if expert is not None else None],
            )
        return True

    # --- delivery ---------------------------------------------------------------------------------------------

    def deliver_due(self, now: datetime | None = None) -> int:
        """Claim due deliveries (lease), POST them outside any transaction, record each answer."""
        now = now or utcnow()
        with Session(self.engine) as db_session:
            due = db_session.exec(
                self._claim(
                    select(Delivery)
                    .where(
                        Delivery.status == DeliveryStatus.pending.value,
                        col(Delivery.next_attempt_at) <= now,
                        or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < now),
                    )
                    .order_by(col(Delivery.id))
                    .limit(BATCH)
                )
            ).all()
            if not due:
                return 0
            for delivery in due:
                delivery.lease_until = now + LEASE
                db_session.add(delivery)
            work = []
            for delivery in due:
                hook = db_session.get(Webhook, delivery.webhook_id)
                event = db_session.get(Event, delivery.event_id)
                if hook is not None and event is not None:
                    work.append((delivery.id, hook.url, hook.secret, event.type, body_of(event)))
            db_session.commit()
        for delivery_id, url, secret, event_type, body in work:
            code, error = self._post(url, secret, event_type, delivery_id, body)  # type: ignore[arg-type]
            self._record(delivery_id, code, error)  # type: ignore[arg-type]
        return len(work)

    def _post(
        self, url: str, secret: str, event_type: str, delivery_id: int, body: bytes
    ) -> tuple[int | None, str | None]:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "expertmatch-webhooks/1",
                "X-Expertmatch-Event": event_type,
                "X-Expertmatch-Delivery": str(delivery_id),
                "X-Expertmatch-Signature": sign(secret, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.webhook_timeout_seconds) as response:  # noqa: S310
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, f"HTTP {exc.code}"
        except Exception as exc:  # refused, timed out, bad TLS: all mean "try again later"
            return None, f"{type(exc).__name__}: {exc}"[:500]

    def _record(self, delivery_id: int, code: int | None, error: str | None) -> None:
        now = utcnow()
        with Session(self.engine) as db_session:
            delivery = db_session.get(Delivery, delivery_id)
            if delivery is None:
                return  # the subscription was deleted meanwhile
            delivery.attempts += 1
            delivery.last_attempt_at = now
            delivery.last_status_code = code
            delivery.lease_until = None
            if code is not None and 200 <= code < 300:
                delivery.status, delivery.delivered_at, delivery.last_error = DeliveryStatus.delivered.value, now, None
            else:
                delivery.last_error = error
                following = now + backoff(delivery.attempts, self.settings.webhook_retry_base_seconds)
                if following > _as_utc(delivery.retry_until):
                    delivery.status = DeliveryStatus.failed.value
                else:
                    delivery.next_attempt_at = following
            db_session.add(delivery)
            db_session.commit()

    # --- schedule ---------------------------------------------------------------------------------------------

    def scan_deadlines(self, now: datetime | None = None) -> int:
        """Record `deadline.approaching` once per round, call or demand whose deadline falls within the notice."""
        now = now or utcnow()
        horizon = now + timedelta(days=self.settings.deadline_notice_days)
        found = 0
        with Session(self.engine) as db_session:
            for rnd in db_session.exec(
                select(Round).where(
                    Round.status == RoundStatus.open.value,
                    col(Round.deadline).is_not(None),
                    col(Round.deadline) > now,
                    col(Round.deadline) <= horizon,
                )
            ).all():
                found += self._deadline(db_session, "round", rnd.id, _as_utc(rnd.deadline).isoformat(), {})  # type: ignore[arg-type]
            for call in db_session.exec(
                select(Call).where(
                    Call.status == CallStatus.open.value, col(Call.deadline) > now, col(Call.deadline) <= horizon
                )
            ).all():
                demand = db_session.get(Demand, call.demand_id)
                found += self._deadline(
                    db_session,
                    "call",
                    call.id,  # type: ignore[arg-type]
                    _as_utc(call.deadline).isoformat(),
                    {"demand_id": call.demand_id},
                    enterprises=[demand.enterprise_id if demand else None],
                )
            for demand in db_session.exec(
                select(Demand).where(
                    Demand.status == DemandStatus.open.value,
                    col(Demand.deadline).is_not(None),
                    col(Demand.deadline) >= now.date(),
                    col(Demand.deadline) <= horizon.date(),
                )
            ).all():
                found += self._deadline(
                    db_session,
                    "demand",
                    demand.id,  # type: ignore[arg-type]
                    demand.deadline.isoformat(),  # type: ignore[union-attr]
                    {"title": demand.title},
                    enterprises=[demand.enterprise_id],
                )
        return found

    def _deadline(
        self,
        db_session: Session,
        kind: str,
        record_id: int,
        deadline: str,
        extra: dict,
        enterprises: list | None = None,
    ) -> int:
        key = f"deadline:{kind}:{record_id}:{deadline}"
        recorded = events.record(
            db_session=db_session,
            type=EventType.deadline_approaching,
            data={"kind": kind, "id": record_id, "deadline": deadline, **extra},
            enterprises=enterprises or [],
            dedupe_key=key,
        )
        if recorded is None:
            return 0
        try:
            db_session.commit()  # one commit per event: a twin worker's duplicate fails alone
        except IntegrityError:
            db_session.rollback()
            return 0
        return 1
