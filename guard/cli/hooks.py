"""Commands behind the pre-commit hooks (``.pre-commit-hooks.yaml``): each reads its options with
click and hands them to the hook module's core (:func:`guard.hooks.requirements.run`), which
``main(argv) -> int`` of the hook module also calls."""

from __future__ import annotations

import sys

import click

EPILOG = """\b
Examples:
  guard check-requirements requirements.txt environment.yml
  guard check-requirements --prefix "$CONDA_PREFIX" requirements-gpu.txt
  guard check-requirements --json --strict requirements.txt

\b
In .pre-commit-config.yaml (pre-commit passes the changed files):
  - repo: https://github.com/<owner>/conda-pip-guard
    rev: v0.1.0
    hooks:
      - id: guard-requirements
        args: [--suggest-conda]

\b
Output: one line per finding, "file:line: message" (warning:/note: when it
does not fail the hook; "skipped:" when a check could not run). --json: one
object, schema guard/data/schemas/check-requirements.schema.json.
Exit status: 0 nothing to fix, 1 at least one error (with --strict, also a
skipped check), 2 usage error.
"""


@click.command("check-requirements", epilog=EPILOG)
@click.option(
    "--environment",
    metavar="FILE",
    default=None,
    help="The conda environment file (default: environment.yml/.yaml at the repository root).",
)
@click.option("--prefix", metavar="DIR", default=None, help="Check against a real conda environment instead.")
@click.option("--index-url", metavar="URL", default=None, help="The package index (default: from pip's configuration).")
@click.option(
    "--suggest-conda", is_flag=True, help="Also note packages conda-forge ships that could move into environment.yml."
)
@click.option("--strict", is_flag=True, help="Fail when a check is skipped (index unreachable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (schema 1).")
@click.argument("filenames", nargs=-1, type=click.Path())
def check_requirements(environment, prefix, index_url, suggest_conda, strict, as_json, filenames):
    """Check requirements files and environment.yml pip: sections against the conda environment
    (the pre-commit hook guard-requirements).

    FILENAMES: requirements*.txt, *.in, constraints files, environment.yml. Reports requirements
    that name what conda provides, resolutions that need another version of a conda package,
    CUDA runtime wheels beside conda's CUDA. Resolution checks ask the index pip would use; when
    it is unreachable they are skipped (one line), which fails the hook only with --strict.
    """
    import os

    from guard.hooks.requirements import HookArgs, run

    args = HookArgs(
        filenames=tuple(filenames),
        environment=environment,
        prefix=prefix,
        index_url=index_url,
        suggest_conda=suggest_conda,
        strict=strict,
        as_json=as_json,
    )
    code, out = run(args, environ=dict(os.environ), cwd=os.getcwd())
    if out:
        click.echo(out)
    sys.exit(code)
