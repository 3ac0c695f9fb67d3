"""The installer's argv and requirement files, parsed once, with the user's pip configuration as defaults."""
