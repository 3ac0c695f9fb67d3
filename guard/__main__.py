"""``python -m guard``: the same as the ``guard`` command."""

from .cli import main

main()
