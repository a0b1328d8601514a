"""Data quality: checks built from the integrity indicators, scores, freshness, quarantine."""
