"""``guard doctor``'s report as text (one line per finding, its fix below) or JSON (schema 1).
Renderers return strings; nothing here prints."""

from __future__ import annotations

import json

from guard.doctor.models import PROBLEM, WARNING, Report
from guard.explain.repair import OVERRIDE_PREFIX

_LABEL = {PROBLEM: "PROBLEM", WARNING: "WARNING"}
_INDENT = " " * 9


def report_text(report: Report) -> str:
    lines = []
    for f in report.findings:
        lines.append(f"{_LABEL[f.severity]:<8} {f.message}")
        if f.fix:
            lines.append(f"{_INDENT}fix: {f.fix}")
            if f.fix.startswith(OVERRIDE_PREFIX):
                lines.append(
                    f"{_INDENT}     ({OVERRIDE_PREFIX.strip()}: conda's record still lists this metadata, so the "
                    "guard would block the pip step; the override lets that one command through)"
                )
    if report.ok:
        n = len(report.ok)
        names = ", ".join(f"{o['name']} {o['version']}" for o in report.ok)
        lines.append(f"{'OK':<8} {n} protected package{'s' if n != 1 else ''} intact ({names})")
    elif not report.findings:
        lines.append(f"{'OK':<8} nothing to report")
    for note in report.notes:
        lines.append(f"{'NOTE':<8} {note}")
    return "\n".join(lines)


def report_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
