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


def _step(step: str) -> str:
    """``transformers[torch]==5.23.0 -> torch>=2.6`` -> ``transformers[torch] 5.23.0 requires torch>=2.6``."""
    parent, _, req = step.partition(" -> ")
    name, _, version = parent.partition("==")
    return f"{name} {version} requires {req}"


def chain_lines(chain) -> list[str]:
    """A chain as printed under a reason: one edge per line, or who asked for it directly."""
    if not chain:
        return []
    if len(chain) == 1:
        return [f"requested: {chain[0]}"]
    return [_step(s) for s in chain[1:]]


def reason_blocks(verdict) -> list[tuple[str, list[str]]]:
    """(headline, detail lines) per blocked change; new CUDA wheels are grouped in one block."""
    blocks = []
    cuda = [r for r in verdict.reasons if r.rule == "cuda-wheel-beside-conda-cuda"]
    for r in verdict.reasons:
        if r.rule != "cuda-wheel-beside-conda-cuda":
            blocks.append((r.message, chain_lines(r.chain)))
    if len(cuda) == 1:
        blocks.append((cuda[0].message, chain_lines(cuda[0].chain)))
    elif cuda:
        runtime = cuda[0].message.rpartition(" beside ")[2]
        names = ", ".join(r.message.split("pip would add ", 1)[1].split(" beside ")[0] for r in cuda)
        shortest = min((r.chain for r in cuda), key=len)
        blocks.append((f"pip would add {len(cuda)} CUDA wheels beside {runtime}: {names}", chain_lines(shortest)))
    return blocks


def check_text(result: CheckResult, *, verbose: bool = False) -> str:
    plan, verdict = result.plan, result.verdict
    lines = []
    if verdict.blocked:
        for headline, details in reason_blocks(verdict):
            lines.append(f"BLOCK  {headline}")
            lines.extend(f"{INDENT}{d}" for d in details)
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
    for headline, details in reason_blocks(result.verdict):
        lines.append(f"  {headline}")
        lines.extend(f"      {d}" for d in details)
    first = result.verdict.reasons[0].name if result.verdict.reasons else ""
    lines.append(f"  Nothing was installed. Details: guard why {first}; override: GUARD_DISABLE=1 pip ...")
    return "\n".join(lines)
