"""Renderers: results in, text out. Nothing here prints."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from guard.models import CheckResult

if TYPE_CHECKING:
    from guard.explain.why import Explanation

INDENT = "       "


def check_json(result: CheckResult, installer: str = "pip") -> str:
    """``guard check --json``: the result, with ``"installer"`` (``pip`` | ``uv``) after ``command``."""
    obj = {}
    for key, value in result.to_json().items():
        obj[key] = value
        if key == "command":
            obj["installer"] = installer
    return json.dumps(obj, indent=2, sort_keys=False)


def _as(installer: str, text: str) -> str:
    """A message of the policy (which says ``pip would ...``) in the installer's name."""
    return text if installer == "pip" else text.replace("pip would ", f"{installer} would ")


UV_CHAIN = "chain: from uv's dry run"


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


def reason_blocks(verdict, installer: str = "pip", requested=()) -> list[tuple[str, list[str]]]:
    """(headline, detail lines) per blocked change; new CUDA wheels are grouped in one block.
    ``installer``: who would make the change (``pip``, ``uv``: its dry run gives no chain for
    what the user did not name, said as ``chain: from uv's dry run``)."""

    def details(r_name, chain) -> list[str]:
        lines = chain_lines(chain)
        if installer == "uv" and len(chain) <= 1 and r_name not in requested:
            lines.append(UV_CHAIN)
        return lines

    blocks = []
    cuda = [r for r in verdict.reasons if r.rule == "cuda-wheel-beside-conda-cuda"]
    for r in verdict.reasons:
        if r.rule != "cuda-wheel-beside-conda-cuda":
            blocks.append((_as(installer, r.message), details(r.name, r.chain)))
    if len(cuda) == 1:
        blocks.append((_as(installer, cuda[0].message), details(cuda[0].name, cuda[0].chain)))
    elif cuda:
        runtime = cuda[0].message.rpartition(" beside ")[2]
        names = ", ".join(r.message.split("pip would add ", 1)[1].split(" beside ")[0] for r in cuda)
        shortest = min((r.chain for r in cuda), key=len)
        blocks.append(
            (f"{installer} would add {len(cuda)} CUDA wheels beside {runtime}: {names}", details("", shortest))
        )
    return blocks


def check_text(result: CheckResult, *, verbose: bool = False, installer: str = "pip") -> str:
    plan, verdict = result.plan, result.verdict
    lines = []
    if verdict.blocked:
        for headline, details in reason_blocks(verdict, installer, plan.requested):
            lines.append(f"BLOCK  {headline}")
            lines.extend(f"{INDENT}{d}" for d in details)
    else:
        n = len(plan.changes)
        what = (
            "nothing to change" if n == 0 else f"{n} change{'s' if n != 1 else ''}, none to a protected conda package"
        )
        lines.append(f"ALLOW  {what}")
    if verbose or not verdict.blocked:
        for c in plan.changes:
            lines.append(f"{INDENT}{_change_line(c)}")
    for w in result.all_warnings():
        lines.append(f"WARN   {_as(installer, w)}")
    if plan.path != "resolver":
        lines.append(f"NOTE   simulated by {installer}'s own --dry-run ({plan.fallback_reason})")
    return "\n".join(lines)


def block_text(result: CheckResult, installer: str = "pip") -> str:
    """What a blocked ``pip install`` (``uv pip install``: ``installer="uv"``) prints through the
    shims (stderr)."""
    lines = ["conda-pip-guard: blocked."]
    override = "GUARD_DISABLE=1 pip ..." if installer == "pip" else f"GUARD_DISABLE=1 {installer} pip ..."
    for headline, details in reason_blocks(result.verdict, installer, result.plan.requested):
        lines.append(f"  {headline}")
        lines.extend(f"      {d}" for d in details)
    nothing = "Nothing was removed." if result.plan.command == "uninstall" else "Nothing was installed."
    named = [r.name for r in result.verdict.reasons if r.rule != "unreadable-environment"]
    if named or not result.verdict.reasons:
        lines.append(f"  {nothing} Details: guard why {named[0] if named else ''}; override: {override}")
    else:  # only the environment's own damage: there is no package to ask about
        lines.append(f"  {nothing} Details: guard doctor; override: {override}")
    return "\n".join(lines)


# ---- guard why / guard log -----------------------------------------------------------------------------


def _record_phrase(rec, variant) -> str:
    """``pytorch 2.5.1, build cuda126_..., channel conda-forge: a CUDA 12.6 build``."""
    from guard.policy.rules import short_channel

    text = f"{rec['name']} {rec['version']}, build {rec['build']}, channel {short_channel(rec['channel'])}"
    if variant:
        text += f": a {variant} build" if variant != "CPU" else ": a CPU build"
    return text


def _status_line(status) -> str:
    name = status["name"]
    if status["installed"] is None:
        return f"{name} is not installed in this environment."
    if status["owner"] == "conda":
        rec = status["conda_record"]
        owned = f"conda installed it ({_record_phrase(rec, status['variant'])})" if rec else "conda installed it"
        if status["protected"]:
            return f"{name} {status['installed']} is protected: {owned}."
        return (
            f"{name} {status['installed']} is not protected, but {owned}: pip changing it gets a warning "
            f"(conda_owned: block makes it a block)."
        )
    return f"{name} {status['installed']} is not protected: {status['owner']} installed it (no conda record lists it)."


def _tree(item, indent="  ") -> list[str]:
    from guard.explain.why import edges_of, tree_lines

    return [indent + line for line in tree_lines(edges_of(item["paths"]), item.get("installed"), item.get("proposed"))]


def why_json(explanation: Explanation) -> str:
    """``guard why --json``: one JSON object (schema 1)."""
    return json.dumps(explanation.to_json(), indent=2)


def why_text(explanation: Explanation) -> str:
    """``guard why PKG``: the package's status, the paths that change it, and what to do. Told
    from the explanation's JSON data, so that the text never says what ``--json`` does not."""
    if explanation.package is None:
        return "No blocked command in this environment's journal."
    expl = explanation.to_json()
    name = expl["package"]
    command = " ".join(expl.get("command") or [])
    # the environment's own damage blocks whatever the command changes: said apart, at the end
    unreadable = [b for b in expl["blocked"] if b["rule"] == "unreadable-environment"]
    expl = {**expl, "blocked": [b for b in expl["blocked"] if b["rule"] != "unreadable-environment"]}
    lines = [_status_line(expl["status"])]
    if any(b["name"] == name for b in unreadable):
        lines[0] += " But what the environment says about it cannot be read: it is treated as protected."
    items = {b["name"]: b for b in expl["blocked"] + expl["cuda_wheels"]}
    if command and expl.get("time"):
        lines.append(f"Last blocked command ({expl['time']}): {command}")
    if name in items:
        item = items[name]
        if item["rule"] == "cuda-wheel-beside-conda-cuda":
            runtime = expl.get("cuda_runtime") or {}
            lines.append(
                f"{command} would add {name} {item['proposed']} beside conda's CUDA runtime "
                f"({runtime.get('name', '?')} {runtime.get('version', '?')}), because"
            )
            lines.extend(_tree(item))
            if item.get("shadows"):
                lines.append(f"It would shadow conda's {', '.join(item['shadows'])} (same library, another build).")
            elif item.get("conda_equivalents"):
                lines.append(f"conda-forge ships the same library as {', '.join(item['conda_equivalents'])}.")
        else:
            verb = {
                "upgrade": "replace it with",
                "downgrade": "replace it with",
                "reinstall": "reinstall it as",
                "remove": "remove it",
            }.get(item["action"] or "", "change it to")
            what = f" {name} {item['proposed']} from the index" if item["action"] != "remove" else ""
            lines.append(f"{command} would {verb}{what}, because")
            lines.extend(_tree(item))
    elif expl.get("change"):
        c = expl["change"]
        lines.append(
            f"{command} would {c['action']} {name} ({c.get('installed') or '-'} -> {c.get('proposed') or '-'}); "
            + ("that alone would be allowed." if unreadable else "that is allowed.")
        )
        for p in expl.get("change_paths") or ():
            from guard.explain.why import edges_of, tree_lines

            lines.extend("  " + x for x in tree_lines(edges_of([p]), c.get("installed"), c.get("proposed")))
    elif command:
        lines.append(f"{command} does not change {name}.")
    elif not expl.get("verdict"):
        lines.append("No blocked command in this environment's journal.")
    others = [b for b in expl["blocked"] if b["name"] != name]
    for b in others:
        lines.append(
            f"It would also {b['action']} {b['name']} {b['installed']} -> {b['proposed']} "
            f"(protected, conda: {_record_phrase(b['conda_record'], b['variant']) if b['conda_record'] else '?'}):"
        )
        lines.extend(_tree({**b, "paths": b["paths"][:1]}, indent="    "))  # the shortest path is enough here
    cuda = [c for c in expl["cuda_wheels"] if c["name"] != name]
    if cuda:
        runtime = expl.get("cuda_runtime") or {}
        shadows = sorted({s for c in cuda for s in c.get("shadows") or ()})
        text = (
            f"and it would add {len(cuda)} CUDA wheel{'s' if len(cuda) != 1 else ''} "
            f"({', '.join(c['name'] for c in cuda[:6])}{', ...' if len(cuda) > 6 else ''}) beside conda's CUDA "
            f"runtime ({runtime.get('name', '?')} {runtime.get('version', '?')})"
        )
        if shadows:
            text += f", shadowing conda's {', '.join(shadows)}"
        lines.append(text + ".")
    if unreadable:
        lines.append(
            f"{command} is blocked: the environment cannot be read safely:"
            if command
            else "Blocked: the environment cannot be read safely:"
        )
        lines.extend(f"  {b['message']}" for b in unreadable)
    options = why_options(expl)
    if options:
        lines.append("Options:")
        lines.extend(options)
    if expl.get("simulation", {}).get("path") == "journal" and expl.get("verdict"):
        lines.append("(rendered from the journal: the command could not be simulated again)")
    return "\n".join(lines)


def why_options(expl: dict) -> list[str]:
    """The numbered options under a blocked explanation (its JSON data)."""
    if expl.get("verdict") != "block":
        return []
    out = []
    n = 0
    protected = [b for b in expl["blocked"] if b["rule"] in ("protected-conda-package", "cuda-variant-change")]
    keep = ", ".join(f"{b['name']} {b['installed']}" for b in protected) or "conda's CUDA runtime"
    alt = expl.get("alternative")
    if alt is not None:
        n += 1
        if alt["status"] == "found":
            resolved = ", ".join(f"{k} {v}" for k, v in alt["resolved"].items())
            out.append(
                f"  {n}. keep conda's packages:  {_cmd(['pip', *alt['argv']])}"
                + (f"   (resolves to {resolved}; verified: works with {keep})" if resolved else "   (verified)")
            )
        elif alt["status"] == "impossible":
            out.append(f"  {n}. keep conda's packages:  not possible: {alt['reason']}")
        else:
            out.append(f"  {n}. keep conda's packages:  no verified command ({alt['reason']})")
    red = expl.get("redirect")
    if red is not None:
        n += 1
        text = f"  {n}. move to conda:          {red['conda_command']}"
        if red.get("pip_command"):
            text += f"  &&  {red['pip_command']}"
        out.append(text)
    n += 1
    argv = expl.get("command") or []
    variants = sorted({b["variant"] for b in protected if b.get("variant")})
    lose = (
        f"   (you will lose conda's {' / '.join(variants)} build)"
        if variants
        else ("   (conda's records will disagree with site-packages)" if protected else "")
    )
    out.append(f"  {n}. override:               GUARD_DISABLE=1 {_cmd(argv)}{lose}")
    return out


def _cmd(argv) -> str:
    from guard.explain.redirect import shell_join

    return shell_join(list(argv))


def log_text(entries) -> str:
    """``guard log``: one line per journal entry, oldest first."""
    if not entries:
        return "(the journal is empty)"
    lines = []
    for e in entries:
        verdict = e.get("verdict", "?")
        argv = " ".join(e.get("argv") or [])
        extra = ""
        if e.get("step"):
            extra = f"  [{e['step']}: {e.get('outcome', '?')}, exit {e.get('rc')}] {e.get('executed', '')}"
        elif verdict == "block":
            names = sorted({r.get("name") for r in e.get("reasons") or () if r.get("name")})
            extra = f"  ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})" if names else ""
        elif e.get("note"):
            extra = f"  ({e['note']})"
        lines.append(f"{e.get('time', '?')}  {verdict:<11} {argv}{extra}")
    return "\n".join(lines)
