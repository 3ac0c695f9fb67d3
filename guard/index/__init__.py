"""The package index client: transport, pages, metadata, range reads, cache."""
