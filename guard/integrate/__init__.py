"""Integration with the user's env: shims, activation scripts, the python -m pip hook."""
