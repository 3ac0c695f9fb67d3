"""``guard log``: this environment's journal, oldest first. Exit status: 0, 2 bad input."""

from __future__ import annotations

import json

import click

from guard.cli.context import Context, prefix_option


@click.command()
@prefix_option()
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON array.")
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
    click.echo(json.dumps(found.entries, indent=2) if as_json else render.log_text(found.entries))
