"""The click commands, thin faces over the stages: one module per command group (``check``,
``pip``, ``why``, ``log``, ``doctor``, ``status``, ``shims``, ``hooks``), the group and its
one-line errors in ``main``, the environment found once in ``context``, the exit codes in
``exit_codes``."""
