"""What a command pays for before it does anything: modules that only some paths need are
imported by those paths (each costs milliseconds on every guarded command)."""

import subprocess
import sys

PROBE = """
import os, sys
from guard.environment.snapshot import default_prefix
default_prefix({"CONDA_PREFIX": os.getcwd(), "PATH": ""})
print(sorted(m for m in ("guard.environment.conda_meta", "guard.environment.interpreter",
                         "guard.environment.site_packages", "shutil", "lzma") if m in sys.modules))
"""


def test_finding_the_active_env_reads_no_snapshot_modules(tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
