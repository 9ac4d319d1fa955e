"""Suggestion pages rendered once to JSON bytes, and the per-worker cache that keeps them, bounded in bytes.

A rendered item is the JSON of one suggestion with its party's contact left out: the bytes up to the contact
(`head`) and the contact JSON as the worker's state holds it. Whether the caller may see a contact (SPEC 6.3) is
decided per request, so the same rendered page serves an administrator and the enterprise: the body is the heads
joined with the contact or `null`. Items are rendered through the API's own pydantic models (one source of truth
for the shape) and serialised by pydantic-core, in Rust; a cached page costs a dictionary lookup and a join.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matching.scoring import Suggestion
from service.suggestions.models import (
    DemandSuggestion,
    DemandSummary,
    Evidence,
    ExpertSuggestion,
    ExpertSummary,
    Reason,
)

if TYPE_CHECKING:
    from service.suggestions.live import IndexState

_CONTACT_TAIL = b'"contact":null}}'  # a summary's last field is `contact`, an item's last field its summary
_NULL_TAIL = b"null}}"
_ENTRY_OVERHEAD = 240  # an OrderedDict entry with its key tuple and linked-list node, measured with sys.getsizeof


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """A page of suggestions as JSON fragments: (party id, bytes up to the contact, the party's contact JSON)."""

    items: tuple[tuple[int, bytes, bytes | None], ...]
    total: int

    @property
    def nbytes(self) -> int:
        """Bytes this page holds in memory: the fragments and their containers (contacts are shared with the
        worker's state, so only their references count)."""
        size = sys.getsizeof(self) + sys.getsizeof(self.items) + sys.getsizeof(self.total)
        for item in self.items:
            size += sys.getsizeof(item) + sys.getsizeof(item[0]) + sys.getsizeof(item[1])
        return size + _ENTRY_OVERHEAD

    def body(self, *, limit: int, offset: int, entitled: Callable[[int], bool]) -> bytes:
        """The response body: `{items, total, limit, offset}` with contacts only where `entitled(party id)`."""
        parts = [
            head + (contact if contact is not None and entitled(party) else b"null") + b"}}"
            for party, head, contact in self.items
        ]
        tail = b'],"total":%d,"limit":%d,"offset":%d}' % (self.total, limit, offset)
        return b'{"items":[' + b",".join(parts) + tail


class PageCache:
    """Rendered pages of the current index state, least recently used evicted first, at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.evictions = 0
        self._pages: OrderedDict[Hashable, tuple[RenderedPage, int]] = OrderedDict()
        self._version = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable, version: int) -> RenderedPage | None:
        """The page cached for `key` at this state version, if any."""
        with self._lock:
            if version != self._version:
                return None
            found = self._pages.get(key)
            if found is None:
                return None
            self._pages.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, page: RenderedPage, version: int) -> None:
        """Remember a page computed at `version` (dropped if the state has moved on, or if it alone is too big)."""
        size = page.nbytes
        with self._lock:
            if version != self._version or size > self.max_bytes:
                return
            old = self._pages.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            self._pages[key] = (page, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, (_, dropped) = self._pages.popitem(last=False)
                self.nbytes -= dropped
                self.evictions += 1

    def invalidate(self, version: int) -> None:
        """The state changed: forget every page and accept only pages of `version` from now on."""
        with self._lock:
            self._version = version
            self._pages.clear()
            self.nbytes = 0


def _reasons(reasons: list[Any]) -> list[Reason]:
    return [Reason(code=r.code, zh=r.zh, en=r.en) for r in reasons]


def _fields(s: Suggestion) -> dict[str, Any]:
    """The suggestion's own fields in the API's shape."""
    exclusions = _reasons(s.exclusions)
    return {
        "score": s.score,
        "components": s.components,
        "matched_terms": s.matched_terms,
        "missing_keywords": s.missing_keywords,
        "evidence": Evidence(
            field=s.evidence.field, index=s.evidence.index, text=s.evidence.text, score=s.evidence.score
        )
        if s.evidence is not None
        else None,
        "reasons": [*exclusions, *_reasons(s.reasons)],
        "excluded": s.excluded,
        "exclusions": exclusions,
    }


def _head(item: ExpertSuggestion | DemandSuggestion) -> bytes:
    """The item's JSON up to its contact (rendered with `contact: null`, which is cut off)."""
    raw = item.__pydantic_serializer__.to_json(item)
    if not raw.endswith(_CONTACT_TAIL):  # the models' field order is part of this module's contract
        raise AssertionError("a suggestion item must end with its summary's contact")
    return raw[: -len(_NULL_TAIL)]


def render_experts(found: list[Suggestion], total: int, state: IndexState) -> RenderedPage:
    """Specialists for a demand, their public summaries from the worker's state."""
    matcher = state.matcher
    items = []
    for s in found:
        p = matcher.experts_[s.expert_id]  # type: ignore[union-attr]
        summary = ExpertSummary(
            id=p.id,
            name=p.name,
            institution=p.institution,
            institution_type=p.institution_type,  # type: ignore[arg-type]
            title=p.title,
            region=p.region,
            origin=p.origin,  # type: ignore[arg-type]
        )
        item = ExpertSuggestion(expert_id=s.expert_id, expert=summary, **_fields(s))
        items.append((s.expert_id, _head(item), state.expert_contact(s.expert_id)))
    return RenderedPage(tuple(items), total)


def render_demands(found: list[Suggestion], total: int, state: IndexState) -> RenderedPage:
    """Open demands for a specialist, with their enterprise's name from the worker's state."""
    matcher = state.matcher
    items = []
    for s in found:
        d = matcher.demands_[s.demand_id]  # type: ignore[union-attr]
        enterprise = state.enterprise(d.enterprise_id)
        summary = DemandSummary(
            id=d.id,
            title=d.title,
            enterprise_id=d.enterprise_id,
            enterprise_name=enterprise.name,
            region=d.region,
            industry=d.industry,
            on_site=d.on_site,
            headcount=d.headcount,
        )
        item = DemandSuggestion(demand_id=s.demand_id, demand=summary, **_fields(s))
        items.append((d.enterprise_id, _head(item), enterprise.contact))
    return RenderedPage(tuple(items), total)
