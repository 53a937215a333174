"""The labelled training corpus: source ids resolved against local git mirrors, never stored texts."""
