"""Explanations, pure over the stages' results: ``why`` (the dependency-path tree and the frozen
``Explanation`` of ``guard why``), ``alternative`` (a verified command that keeps conda's
packages), ``redirect`` (the conda redirect as a plan), ``repair`` (the commands that undo pip's
damage), ``render`` (the text of every result; renderers return strings)."""
