"""Retrieval: compact segments (float16 rows and postings), exact pruned top-k, arrays shared between processes."""

from matching.retrieval.postings import LUT, Postings, Rows, taat, top_k_taat

__all__ = ["LUT", "Postings", "Rows", "taat", "top_k_taat"]
