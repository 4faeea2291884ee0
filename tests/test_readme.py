"""The README works as written: every Python block runs, every command-line example runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from dropout_viz import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Small enough that running a README command takes a second, not the preset's full run.
TINY = ["--epochs", "3", "--width", "8", "--n-samples", "60"]


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def commands(block: str) -> list[str]:
    """The block's command lines, without their trailing comments."""
    lines = (line.split(" #")[0].strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


PYTHON_BLOCKS = code_blocks("python")
CLI_BLOCK, = re.findall(r"^```bash\n(.*?)^```", section("Command line"), flags=re.M | re.S)
CLI_COMMANDS = [line for line in commands(CLI_BLOCK) if line.startswith("python -m dropout_viz")]


def test_the_readme_has_what_these_tests_read():
    assert PYTHON_BLOCKS
    assert len(CLI_COMMANDS) >= 4
    assert {line.split()[0] for line in commands(CLI_BLOCK)} <= {"python", "du"}


@pytest.mark.parametrize("block", PYTHON_BLOCKS,
                         ids=[f"python-block-{i}" for i in range(len(PYTHON_BLOCKS))])
def test_python_block_runs(block, tmp_path):
    """In a fresh interpreter and an empty folder, as a reader would paste it."""
    script = tmp_path / "readme_block.py"
    script.write_text(block, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("line", CLI_COMMANDS)
def test_command_line_example_runs(line, tmp_path, monkeypatch, capsys):
    """Each command parses as written and runs (with a tiny run for train and export)."""
    argv = shlex.split(line)[3:]  # after "python -m dropout_viz"
    monkeypatch.chdir(tmp_path)  # export writes out/ here
    if "--help" in argv:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 0
        assert "train" in capsys.readouterr().out
        return
    cli.build_parser().parse_args(argv)  # as written: options and preset names exist
    assert cli.main([*argv, *TINY]) == 0
    out = capsys.readouterr().out
    assert out.strip()
    if argv[0] == "export":
        folder = tmp_path / argv[argv.index("--out") + 1]
        assert (folder / "plotly.min.js").is_file() and list(folder.glob("*.html"))


def test_setup_commands_name_files_that_exist():
    setup = section("Set-up: two commands")
    block, = re.findall(r"^```bash\n(.*?)^```", setup, flags=re.M | re.S)
    lines = commands(block)
    assert lines[0].startswith("python -m venv .venv && . .venv/bin/activate && ")
    named = re.findall(r"pip install -r (\S+)|streamlit run (\S+)|bash (\S+)", block)
    files = [name for group in named for name in group if name]
    assert files == ["requirements.txt", "app.py", ".ci/run"]
    assert all((ROOT / name).is_file() for name in files)
    assert "pip install ." in setup and "pip install -e ." in setup
