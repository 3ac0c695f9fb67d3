"""Renderers: results in, text out. Nothing here prints."""

from __future__ import annotations

import json

from .models import CheckResult

INDENT = "       "


def check_json(result: CheckResult) -> str:
    return json.dumps(result.to_json(), indent=2, sort_keys=False)


def _change_line(c) -> str:
    if c.action == "install":
        text = f"install    {c.name} {c.proposed}"
    elif c.action == "remove":
        text = f"remove     {c.name} {c.installed}"
    elif c.action == "reinstall":
        text = f"reinstall  {c.name} {c.proposed}"
    else:
        text = f"{c.action:<10} {c.name} {c.installed} -> {c.proposed}"
    if c.owner:
        text += f"  [{c.owner}]"
    return text


def check_text(result: CheckResult, *, verbose: bool = False) -> str:
    plan, verdict = result.plan, result.verdict
    lines = []
    if verdict.blocked:
        for r in verdict.reasons:
            lines.append(f"BLOCK  {r.message}")
            for step in r.chain:
                lines.append(f"{INDENT}{step.replace(' -> ', ' requires ')}")
    else:
        n = len(plan.changes)
        what = "nothing to change" if n == 0 else f"{n} change{'s' if n != 1 else ''}, none to a protected conda package"
        lines.append(f"ALLOW  {what}")
    if verbose or not verdict.blocked:
        for c in plan.changes:
            lines.append(f"{INDENT}{_change_line(c)}")
    for w in list(plan.warnings) + list(verdict.warnings):
        lines.append(f"WARN   {w}")
    if plan.path != "resolver":
        lines.append(f"NOTE   simulated by pip's own --dry-run ({plan.fallback_reason})")
    return "\n".join(lines)


def block_text(result: CheckResult) -> str:
    """What a blocked ``pip install`` prints through the shims (stderr)."""
    lines = ["conda-pip-guard: blocked."]
    for r in result.verdict.reasons:
        lines.append(f"  {r.message}")
        for step in r.chain:
            lines.append(f"      {step.replace(' -> ', ' requires ')}")
    first = result.verdict.reasons[0].name if result.verdict.reasons else ""
    lines.append(f"  Nothing was installed. Details: guard why {first}; override: GUARD_DISABLE=1 pip ...")
    return "\n".join(lines)
