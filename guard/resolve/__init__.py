"""Resolution: candidates, finder, the resolvelib provider, and the plan against what is installed."""
