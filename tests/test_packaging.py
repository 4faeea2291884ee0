"""How a new user gets the app: an installable package that carries its presets, and the
classroom server config."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from dropout_viz import presets

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_the_runtime_dependencies_are_requirements_txt():
    assert PYPROJECT["project"]["dependencies"] == requirement_lines(ROOT / "requirements.txt")
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"


def test_every_package_and_preset_is_installed():
    packages = {".".join(init.parent.relative_to(ROOT).parts)
                for init in (ROOT / "dropout_viz").rglob("__init__.py")}
    assert set(SETUPTOOLS["packages"]) == packages | {"dropout_viz.lesson_presets"}
    # The presets' one source is assets/presets/, installed as dropout_viz/lesson_presets/.
    assert SETUPTOOLS["package-dir"] == {"dropout_viz.lesson_presets": "assets/presets"}
    assert SETUPTOOLS["package-data"] == {"dropout_viz.lesson_presets": ["*.json"]}
    assert presets.CHECKOUT_PRESET_DIR == ROOT / "assets" / "presets"
    assert not presets.INSTALLED_PRESET_DIR.exists()  # no second copy in the checkout
    assert presets.PRESET_DIR == presets.CHECKOUT_PRESET_DIR


def build_wheel(source: Path, dist: Path) -> Path:
    """setuptools directly where it can build wheels (≥ 70.1, or with `wheel` installed), else
    pip, which first fetches the pyproject's build requirements (seconds more)."""
    if any(importlib.util.find_spec(name) for name in ("setuptools.command.bdist_wheel", "wheel")):
        command = [sys.executable, "-c", "import sys, setuptools.build_meta as b; "
                   "b.build_wheel(sys.argv[1])", str(dist)]
    else:
        command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                   "--disable-pip-version-check", "-w", str(dist), str(source)]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    wheel, = dist.glob("dropout_viz-*.whl")
    return wheel


@pytest.mark.slow
def test_a_built_wheel_loads_its_presets_away_from_the_checkout(tmp_path):
    """Build the wheel, unpack it as pip would, import it from another folder."""
    pytest.importorskip("setuptools.build_meta")
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes((ROOT / name).read_bytes())
    for folder in ("dropout_viz", "assets/presets"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                target = source / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = build_wheel(source, dist)
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(site)
    shipped = {path.name for path in presets.CHECKOUT_PRESET_DIR.glob("*.json")}
    assert {f"dropout_viz/lesson_presets/{name}" for name in shipped} <= names
    assert not any(name.startswith(("assets/", "tests/")) for name in names)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = ("import dropout_viz.presets as p; "
              "print(p.PRESET_DIR); print(' '.join(p.load_presets()))")
    result = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, check=True,
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(site)})
    where, loaded = result.stdout.splitlines()
    assert Path(where) == site / "dropout_viz" / "lesson_presets"
    assert loaded.split() == list(presets.load_presets())


def test_a_missing_preset_folder_is_an_error_not_an_empty_list(monkeypatch, tmp_path):
    monkeypatch.setattr(presets, "PRESET_DIR", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="lesson presets are missing"):
        presets.load_presets()


def test_the_toolbar_shows_students_no_developer_options():
    from streamlit.proto.NewSession_pb2 import Config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    mode = config["client"]["toolbarMode"]
    assert mode == "viewer"  # no Deploy, Rerun or Clear cache, even on localhost
    assert mode.upper() in Config.ToolbarMode.keys()  # a value this Streamlit accepts


def test_the_server_watches_no_source_files():
    """A watcher walks every imported module for each new session on the event loop that
    serves every session; a classroom server's code does not change while it runs."""
    from streamlit import config as st_config

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    watcher = config["server"]["fileWatcherType"]
    assert watcher == "none"
    allowed = st_config.get_config_options()["server.fileWatcherType"].description
    assert '"none"' in allowed  # a value this Streamlit accepts
