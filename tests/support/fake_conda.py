"""A ``conda`` executable for tests, with a real solver and installer behind it: py-rattler.

``conda install [--prefix P | -p P] [-c CHANNEL]... [-y] SPEC...`` solves the prefix's requested
specs (from its conda-meta records) plus the new SPECs against local ``file://`` channels, and
installs the result into the prefix with rattler (updates, removals and new records included),
as conda would. Channel names map to directories of a :class:`tests.support.conda_prefix.Channel`
(``-c conda-forge`` -> ``<channel dir>/conda-forge``). Anything else exits 2.

Test mode: with ``$FAKE_CONDA_RECORDS`` naming a JSON list of conda-meta records, ``install``
solves nothing: it replaces the prefix's records of those names with the given ones and exits 0
(a front end that "succeeds" with whatever records the test chose, right or wrong).

:func:`install_fake_conda` writes the executable into a directory for PATH; every call is logged
(one JSON line per call) to ``<bin dir>/conda-calls.jsonl`` so tests can check what ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

# os._exit: py-rattler's runtime threads can crash the interpreter's teardown (SIGSEGV after the
# work is done); the exit status must be the command's own
SCRIPT = """#!{python}
import os, sys
sys.path.insert(0, {repo!r})
from tests.support.fake_conda import main
rc = main(sys.argv[1:], channel_dir={channel_dir!r}, cache_dir={cache_dir!r}, log={log!r})
sys.stdout.flush(); sys.stderr.flush()
os._exit(rc)
"""


def install_fake_conda(bin_dir: Path, channel_dir: Path, cache_dir: Path, name: str = "conda") -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    repo = str(Path(__file__).resolve().parent.parent.parent)
    exe = bin_dir / name
    exe.write_text(
        SCRIPT.format(
            python=sys.executable,
            repo=repo,
            channel_dir=str(channel_dir),
            cache_dir=str(cache_dir),
            log=str(bin_dir / "conda-calls.jsonl"),
        )
    )
    exe.chmod(0o755)
    return exe


def _parse(argv: list[str]) -> tuple[str | None, list[str], list[str], bool]:
    if not argv or argv[0] != "install":
        raise SystemExit(f"fake conda: only 'install' is supported, not {argv[:1]}")
    prefix, channels, specs, yes = None, [], [], False
    it = iter(argv[1:])
    for a in it:
        if a in ("-p", "--prefix"):
            prefix = next(it)
        elif a.startswith("--prefix="):
            prefix = a.split("=", 1)[1]
        elif a in ("-c", "--channel"):
            channels.append(next(it))
        elif a in ("-y", "--yes"):
            yes = True
        elif a.startswith("-"):
            raise SystemExit(f"fake conda: unsupported option {a}")
        else:
            specs.append(a)
    return prefix, channels, specs, yes


def main(argv: list[str], *, channel_dir: str, cache_dir: str, log: str) -> int:
    import rattler

    from tests.support.conda_prefix import _COPY_FILES, DEFAULT_VIRTUAL_PACKAGES, PLATFORM, _virtual_packages

    with open(log, "a") as fh:
        fh.write(json.dumps(argv) + "\n")
    try:
        prefix, channels, specs, _yes = _parse(argv)
    except (SystemExit, StopIteration) as exc:
        print(exc, file=sys.stderr)
        return 2
    if prefix is None or not specs:
        print("fake conda: need --prefix and at least one spec", file=sys.stderr)
        return 2
    meta = Path(prefix) / "conda-meta"
    if os.environ.get("FAKE_CONDA_RECORDS"):
        return _write_records(meta, Path(os.environ["FAKE_CONDA_RECORDS"]))
    installed = [rattler.PrefixRecord.from_path(p) for p in sorted(meta.glob("*.json"))]
    new = {rattler.MatchSpec(s).name.normalized: s for s in specs}
    history = []
    for rec in installed:
        for spec in rec.requested_specs or []:
            if rattler.MatchSpec(spec).name.normalized not in new:
                history.append(spec)
    all_specs = list(dict.fromkeys(history + list(new.values())))
    sources = [rattler.Channel((Path(channel_dir) / c).as_uri() + "/") for c in (channels or ["conda-forge"])]
    try:
        records = asyncio.run(
            rattler.solve(
                sources,
                all_specs,
                platforms=[PLATFORM, "noarch"],
                locked_packages=installed,
                virtual_packages=_virtual_packages(DEFAULT_VIRTUAL_PACKAGES),
                channel_relations="disabled",
            )
        )
    except Exception as exc:  # noqa: BLE001 - the solver's message is the user's answer
        print(f"fake conda: could not solve {all_specs}: {exc}", file=sys.stderr)
        return 1
    asyncio.run(
        rattler.install(
            records,
            prefix,
            cache_dir=Path(cache_dir),
            installed_packages=installed,
            show_progress=False,
            config=_COPY_FILES,
            requested_specs=[rattler.MatchSpec(s)._match_spec for s in all_specs],
        )
    )
    print(
        "fake conda: installed "
        + ", ".join(f"{r.name.normalized}-{r.version}-{r.build}" for r in records if r.name.normalized in new)
    )
    return 0


def _write_records(meta: Path, records_file: Path) -> int:
    """Replace the records of the names in ``records_file`` with those records, as they are."""
    records = json.loads(records_file.read_text())
    for rec in records:
        for old in meta.glob(f"{rec['name']}-*.json"):
            if json.loads(old.read_text()).get("name") == rec["name"]:
                old.unlink()
        (meta / f"{rec['name']}-{rec['version']}-{rec['build']}.json").write_text(json.dumps(rec))
    print("fake conda: wrote " + ", ".join(f"{r['name']}-{r['version']}-{r['build']}" for r in records))
    return 0
