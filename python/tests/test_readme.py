"""The README's "From Python" and "On a cluster" examples run as written (from the
repository's root, on the tiny test models they name)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def blocks(section):
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(section), text, re.S | re.M)
    assert m, f"README has no section {section!r}"
    found = re.findall(r"```python\n(.*?)```", m.group(1), re.S)
    assert found, f"README section {section!r} has no python example"
    return found


@pytest.mark.parametrize("section", ["From Python", "On a cluster"])
def test_readme_examples_run(section):
    for code in blocks(section):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip(), "the example printed nothing"
