"""Read-only view of the matching settings (they change only by environment or .env and a restart)."""

from __future__ import annotations

from matching.regions import province_names
from matching.scoring import COMPONENTS
from service.config import Settings
from service.settings.models import MatchingSettings

RANKING_RULE = (
    "score = text * (w_text + sum of w_soft * soft factor), weights normalised to sum 1 and w_text > 1/2: soft "
    "factors scale text relevance by less than a factor 2, so a specialist with at least twice another's text "
    "relevance always ranks above them; among comparable fits the soft factors (in-province first, proximity, "
    "industry, spare capacity, ratings) break the tie"
)


def matching_settings(*, settings: Settings) -> MatchingSettings:
    """The matching settings in force."""
    weights = settings.score_weights()
    shares = weights.normalised()
    _, zh, en = province_names(settings.home_province) or ("", settings.home_province, settings.home_province)
    return MatchingSettings(
        score_weights=weights.as_dict(),
        score_weights_normalised={name: round(float(v), 6) for name, v in zip(COMPONENTS, shares, strict=True)},
        ranking_rule=RANKING_RULE,
        expert_field_weights=dict(settings.expert_field_weights),
        demand_field_weights=dict(settings.demand_field_weights),
        home_province=zh,
        home_province_en=en,
        bilingual=settings.bilingual,
    )
