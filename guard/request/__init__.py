"""The request stage: the installer's argv and requirement files, parsed once, with the user's pip
configuration as defaults.

* ``command``: ``PipCommand``, pip's argv read once (subcommand, general options, ``--dry-run``,
  ``--isolated``, ``-c``, where pip writes); standard library only, so ``guard pip list`` stays fast.
* ``parse``: ``parse_pip_argv``, ``pip install``/``uninstall`` exactly as pip 26.x reads them.
* ``model``: the values it returns (``InstallRequest``, ``UninstallRequest``, ``OtherCommand``,
  ``ReqItem``).
* ``options``: pip's option table, each option classified (``OPTION_EFFECTS``);
  ``option_parser``: pip's ``optparse`` machinery and configuration values as defaults.
* ``reqfile``: requirement and constraint files; ``reqline``: one requirement string.
* ``pip_config``: the user's pip configuration files and ``PIP_*`` variables.

Nothing is re-exported here: importing this package must not import the parser (and
``packaging``) for the pass-through path, which needs only ``command``.
"""
