"""Explanations: the dependency-path graph, why, alternatives, and the text of a verdict."""
