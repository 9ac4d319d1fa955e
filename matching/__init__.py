"""Matching library: text relevance, constraints, ranked and explained suggestions, evaluation.

Pure Python (scikit-learn, scipy, numpy, jieba): no web framework, no database, no I/O.
"""

from matching.assignment import Assignment, FeasibilityReport, assign, assign_milp, feasibility_report
from matching.index import TextIndex
from matching.matcher import (
    DEMAND_FIELD_WEIGHTS,
    EXPERT_FIELD_WEIGHTS,
    CandidatePairs,
    Matcher,
    demand_doc,
    expert_doc,
)
from matching.records import DemandProfile, ExpertProfile
from matching.regions import Region, resolve_region
from matching.scoring import COMPONENTS, Evidence, Reason, ScoreWeights, Suggestion
from matching.stable import PreferenceLists, StableMatching, blocking_pairs, stable_matching
from matching.text import Analyzer, TextVectorizer, initialize_jieba

__all__ = [
    "COMPONENTS",
    "DEMAND_FIELD_WEIGHTS",
    "EXPERT_FIELD_WEIGHTS",
    "Analyzer",
    "Assignment",
    "CandidatePairs",
    "DemandProfile",
    "Evidence",
    "ExpertProfile",
    "FeasibilityReport",
    "Matcher",
    "PreferenceLists",
    "Reason",
    "Region",
    "ScoreWeights",
    "StableMatching",
    "Suggestion",
    "TextIndex",
    "TextVectorizer",
    "assign",
    "assign_milp",
    "blocking_pairs",
    "demand_doc",
    "expert_doc",
    "feasibility_report",
    "initialize_jieba",
    "resolve_region",
    "stable_matching",
]
