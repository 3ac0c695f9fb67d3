"""``python -m guard``: the same as the ``guard`` command."""

from guard.entry import main

main()
