"""Shared fixtures: the golden tiny models and images of the repository's tests/golden, and
the `vlp` command the Python results are compared with (VLP_CLI, else `vlp` beside the
library's prefix, else on PATH)."""

import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden")
MODELS = os.path.join(GOLDEN, "models")
IMAGES = os.path.join(GOLDEN, "images")
PHOTOS = ["chelsea_cat.png", "astronaut.png", "coffee.jpg", "camera_gray.png"]


def model_path(name):
    return os.path.join(MODELS, name)


def image_path(name):
    return os.path.join(IMAGES, name)


def find_cli():
    if os.environ.get("VLP_CLI"):
        return os.environ["VLP_CLI"]
    prefixes = [os.environ.get("VLP_PREFIX")]
    if os.environ.get("VLP_LIBRARY"):
        prefixes.append(os.path.dirname(os.path.dirname(os.environ["VLP_LIBRARY"])))
    for p in filter(None, prefixes):
        cand = os.path.join(p, "bin", "vlp")
        if os.path.exists(cand):
            return cand
    return shutil.which("vlp")


@pytest.fixture(scope="session")
def cli():
    """Run the vlp command; returns its JSON Lines as a list of dicts."""
    exe = find_cli()
    if not exe:
        pytest.fail("no vlp command: set VLP_CLI")

    def run(*args):
        out = subprocess.run([exe, *args], check=False, capture_output=True, text=True)
        assert out.returncode in (0, 1), out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    return run
