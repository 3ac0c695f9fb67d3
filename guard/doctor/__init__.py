"""``guard doctor`` (an environment pip already changed) and ``guard status``: ``models`` (the
data), ``variants``, ``diagnosis``/``diagnose``/``import_checks`` (the pure checks), ``evidence``
(what is read at the edge), ``render`` (text and JSON), ``status``."""
