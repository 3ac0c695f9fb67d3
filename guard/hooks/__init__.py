"""pre-commit hooks: one module per hook, each with ``main(argv) -> int`` (``.pre-commit-hooks.yaml``
at the repository root lists them)."""
