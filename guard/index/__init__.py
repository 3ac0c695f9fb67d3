"""The package index stage: settings, transport, disk cache, page parsing, metadata (PEP 658,
zip range reads, downloads), the client that assembles them, and distributions the user names
directly (local_dist). Only frozen values from :mod:`guard.models` leave it."""
