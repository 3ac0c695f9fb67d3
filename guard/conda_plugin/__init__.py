"""conda-pip-guard as a conda plugin (entry point group ``conda``: ``guard.conda_plugin.plugin``).

The outermost adapter: ``plugin.py`` holds only the ``@hookimpl`` functions, which conda calls at
start; each action they hand conda imports its work when it runs. :mod:`.conda_context` is the
only module that reads conda's state; the others take plain values:

- :mod:`.subcommand`   ``conda guard ...``: the guard's CLI aimed at conda's environment;
- :mod:`.health`       ``conda doctor``'s "conda-pip-guard: pip drift" check;
- :mod:`.post_command` ``pip_guard: auto``: shims and remembered records after conda changed an env;
- :mod:`.pre_command`  ``conda env create/update -f environment.yml``: the pip: section checked first;
- :mod:`.post_solve`   conda's plan against what pip installed;
- :mod:`.settings`     ``pip_guard`` and ``pip_guard_overwrites``.
"""
