"""Diagnosis of an env pip already changed; the status report."""
