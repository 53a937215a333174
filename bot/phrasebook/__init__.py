"""Phrasebook adapter: loads and validates the `phrasebook/` data files (the only YAML reader)."""
