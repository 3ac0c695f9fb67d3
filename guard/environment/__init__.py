"""The environment snapshot: conda-meta records, site-packages, the interpreter."""
