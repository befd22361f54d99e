"""Coverage: which villages and households have what the plan promised, and what is missing."""
