"""``guard --version``: the version from ``guard.__version__``, answered before click, the
commands and importlib.metadata are imported (together they made a bare start 3x slower)."""

import subprocess
import sys

from guard import __version__

PROBE = """
import sys
sys.argv = ["guard", "--version"]
from guard.entry import main
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print("importlib.metadata" in sys.modules, "click" in sys.modules)
"""


def test_version_from_the_package_without_importlib_metadata():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"guard, version {__version__}", "False False"]


def test_click_says_the_same():
    from click.testing import CliRunner

    from guard.cli.main import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"guard, version {__version__}\n"
