"""``guard log``: this environment's journal, oldest first. Exit status: 0, 2 bad input.

``--json`` prints a JSON array of the entries (the shape since 0.1, kept for its readers), each
entry with ``"schema": 1`` added: ``guard/data/schemas/log.schema.json``.
"""

from __future__ import annotations

import json

import click

from guard.cli.context import Context, prefix_option

SCHEMA = 1  # of each entry of --json (guard/data/schemas/log.schema.json)

EPILOG = """\b
Examples:
  guard log -n 5                       the last five decisions
  guard log --json | jq '.[-1]'        the last one, as JSON
  guard log --prefix ~/miniforge3/envs/dl

\b
Each decision: allow, block, declined (a redirect not confirmed), override
(GUARD_DISABLE=1 or --guard-disable), unsimulated (ran under the safety net),
redirect (a step of --guard-redirect), damaged (a protected package changed).
--json: an array of entries, schema guard/data/schemas/log.schema.json.
"""


@click.command(epilog=EPILOG)
@prefix_option()
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON array (schema 1).")
@click.option("-n", "count", type=click.IntRange(min=1), default=None, help="Only the last N entries.")
def log(prefix, as_json, count):
    """Show this environment's journal: every guarded decision, oldest first."""
    from guard.act import journal
    from guard.explain import render

    ctx = Context.resolve(prefix).for_pipeline()
    found = journal.read_all(ctx.prefix, ctx.environ, limit=count)
    for problem in found.problems:
        click.echo(f"guard: warning: {problem}", err=True)
    if found.skipped:
        click.echo(
            f"guard: warning: skipped {found.skipped} unreadable journal line{'s' if found.skipped != 1 else ''}",
            err=True,
        )
    if as_json:
        click.echo(json.dumps([{"schema": SCHEMA, **entry} for entry in found.entries], indent=2))
    else:
        click.echo(render.log_text(found.entries))
