"""The matching settings in force, as administrators see them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MatchingSettings(BaseModel):
    """Score weights (as set and normalised), field weights and home province of this worker's matcher."""

    score_weights: dict[str, float] = Field(description="as set (EXPERTMATCH_WEIGHT_<COMPONENT>)")
    score_weights_normalised: dict[str, float] = Field(description="the shares the score uses (sum 1)")
    ranking_rule: str
    expert_field_weights: dict[str, float]
    demand_field_weights: dict[str, float]
    home_province: str
    home_province_en: str
    bilingual: bool = Field(description="Chinese-English concepts on (EXPERTMATCH_BILINGUAL)")
