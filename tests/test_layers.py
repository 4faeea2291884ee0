"""The house's layering, read from the source: imports point one way, Streamlit stays in ui/, no
file grows past 400 lines, and importing the page changes nothing.

    (schema) ← engine ← data ← pipeline / ensemble / experiments / lesson ← figures
             ← tab_figures / export / cli ← ui ← app.py
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dropout_viz"
MAX_LINES = 400

# Every module of the package, by layer: a module may import its own layer and the ones below.
LAYERS = (
    ("schema", ("dropout_viz", "dropout_viz.schema")),  # the settings table: plain data
    ("engine", ("dropout_viz.engine",)),
    ("data", ("dropout_viz.dataset", "dropout_viz.data", "dropout_viz.csv_data",
              "dropout_viz.settings", "dropout_viz.presets")),
    ("compute", ("dropout_viz.pipeline", "dropout_viz.ensemble",
                 "dropout_viz.ensemble_measures", "dropout_viz.experiments",
                 "dropout_viz.neurons", "dropout_viz.lesson", "dropout_viz.handmade",
                 "dropout_viz.lesson_steps")),
    ("figures", ("dropout_viz.figures",)),
    ("output", ("dropout_viz.tab_figures", "dropout_viz.export", "dropout_viz.cli",
                "dropout_viz.__main__")),
    ("ui", ("dropout_viz.ui",)),
)
# Streamlit's public API; anything else under streamlit. (streamlit.runtime, ...) is internal.
PUBLIC_STREAMLIT = {"streamlit", "streamlit.components.v1"}
KNOWN_EXCEPTIONS: dict[str, set[str]] = {}  # none: ui/cache.py was split (runs.py) and cleaned


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of a dropout_viz module: the longest listed prefix that it falls under."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports, anywhere in it (functions and TYPE_CHECKING included);
    `from dropout_viz import pipeline` counts as importing dropout_viz.pipeline."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                        (ROOT / Path(*candidate.split("."))).is_dir():
                    found.add(candidate)
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def exempt(path: Path, rule: str) -> bool:
    return rule in KNOWN_EXCEPTIONS.get(relative(path), set())


def test_every_module_is_in_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", SOURCES, ids=relative)
def test_imports_point_down(path):
    here = layer_of(module_name(path))
    upward = sorted(
        f"{name} ({LAYERS[layer_of(name)][0]})" for name in imported_modules(path)
        if name.split(".")[0] == "dropout_viz" and layer_of(name) > here)
    assert not upward, f"{relative(path)} ({LAYERS[here][0]}) imports a layer above it: {upward}"


@pytest.mark.parametrize("path", [*SOURCES, ROOT / "app.py"], ids=relative)
def test_streamlit_only_in_ui_and_app_and_only_its_public_api(path):
    used = {name for name in imported_modules(path) if name.split(".")[0] == "streamlit"}
    in_ui = relative(path).startswith("dropout_viz/ui/") or relative(path) == "app.py"
    if not in_ui:
        assert not used, f"{relative(path)} imports {sorted(used)}: Streamlit belongs in ui/"
    internal = sorted(used - PUBLIC_STREAMLIT)
    if not exempt(path, "streamlit internals"):
        assert not internal, f"{relative(path)} imports Streamlit internals {internal}"


@pytest.mark.parametrize("path", SOURCES, ids=relative)
def test_no_file_over_400_lines(path):
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    if not exempt(path, "lines"):
        assert n_lines <= MAX_LINES, f"{relative(path)} has {n_lines} lines (> {MAX_LINES})"


def test_the_layer_rules_catch_what_they_are_for(tmp_path):
    """The checks above read real imports: an upward import is seen."""
    assert layer_of("dropout_viz.ui.action_tab") > layer_of("dropout_viz.export")
    assert layer_of("dropout_viz.figures.network") > layer_of("dropout_viz.pipeline")
    assert "dropout_viz.pipeline" in imported_modules(PACKAGE / "ensemble.py")
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from dropout_viz.ui import page\n"
                      "    import streamlit.runtime\n")
    assert {"dropout_viz.ui.page", "streamlit.runtime"} <= imported_modules(sample)


def test_importing_the_page_changes_no_thread_limits():
    """No side effects on import: the BLAS limit is set by main(), not by `import`."""
    script = ("import numpy\n"  # loads BLAS, so its thread count is there to compare
              "from threadpoolctl import threadpool_info\n"
              "before = [i['num_threads'] for i in threadpool_info()]\n"
              "import dropout_viz.ui.page, dropout_viz.export, dropout_viz.cli\n"
              "after = [i['num_threads'] for i in threadpool_info()][:len(before)]\n"
              "assert after == before, (before, after)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
