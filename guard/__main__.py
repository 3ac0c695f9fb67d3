"""``python -m guard``: the same as the ``guard`` command."""

from .entry import main

main()
