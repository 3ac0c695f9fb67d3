"""The exit codes of ``guard`` (the contract with shims and hooks; the README documents them once):

* 0 allowed (or nothing to judge)
* 1 blocked
* 2 usage error or bad input (a malformed requirement, an unknown option, corrupt files)
* 3 could not simulate (index unreachable, no resolution, pip's dry run failed)
"""

EXIT_ALLOW, EXIT_BLOCK, EXIT_USAGE, EXIT_UNSIMULATED = 0, 1, 2, 3
