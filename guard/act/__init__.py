"""Actions: run pip (with the safety net), block, redirect; journal, verdict cache, post-run verification."""
