"""README truth: every command and Python snippet in README.md runs, so the README cannot drift from the code.

Extracted generically, so that new lines are checked without touching this file:

* fenced ```bash / ```sh / ```console blocks: every line (``$ `` prompts stripped);
* other fenced blocks (outputs): only lines starting with ``$ ``;
* inline code spans in the prose that start with ``realnets `` or ``python -m ``;
* from these, each shell segment (split at ``&&``, ``||``, ``;``, ``|``) starting with ``realnets ``,
  ``python -m `` or ``torchrun ``; ``# ...`` comments are dropped; a line containing ``# not run`` is skipped
  (write the reason after it: ``# not run: needs a GPU``).
* fenced ```python blocks: executed, each in a fresh namespace, in a temporary folder.

Every command's arguments are parsed by the real parser (``realnets``: :func:`realnets.cli.build_parser`;
``python -m module``: the module is run with ``argparse`` stopped right after it parsed, so nothing else runs).
The cheap ``realnets`` commands also run for real, in order, in a temporary folder: ``list``, ``env``, ``train``
on an embedded or synthetic dataset with a small model (with a budget of 0.3 epochs), and ``plot`` of what they
wrote.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
PREFIXES = ("realnets ", "python -m ", "torchrun ")
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
NOT_RUN = "# not run"
# Modules checked only for being importable: running their parser would start them (pytest re-entering itself).
IMPORT_ONLY = {"pytest"}
# Datasets and models cheap enough to train for real in a test (offline, seconds).
CHEAP_DATASETS = {"digits", "synthetic-classification", "synthetic-regression"}
CHEAP_MODELS = {"mlp", "logreg"}
TINY_BUDGET = ["--budget-epochs", "0.3", "--no-plots", "--no-progress", "--device", "cpu"]


def _blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced code block."""
    return [
        (m.group(1).strip().lower(), m.group(2))
        for m in re.finditer(r"^```([^\n`]*)\n(.*?)^```", text, re.M | re.S)
    ]


def _prose(text: str) -> str:
    return re.sub(r"^```[^\n`]*\n.*?^```", "", text, flags=re.M | re.S)


def _segments(line: str) -> list[str]:
    """The commands of one shell line that this test checks."""
    if NOT_RUN in line:
        return []
    line = re.sub(r"(^|\s)#.*$", "", line).strip()  # a comment (a '#' inside a word stays)
    parts = re.split(r"\s*(?:&&|\|\||;|\|)\s*", line)
    return [part.strip() for part in parts if part.strip().startswith(PREFIXES)]


def readme_commands(text: str) -> list[str]:
    """Every command of the README (see the module docstring), in order of appearance, without repeats."""
    commands: list[str] = []
    for language, body in _blocks(text):
        if language == "python":
            continue
        for raw in body.splitlines():
            line = raw.strip()
            if line.startswith("$ "):
                line = line[2:]
            elif language not in SHELL_LANGUAGES:
                continue
            commands += _segments(line)
    for span in re.findall(r"`([^`\n]+)`", _prose(text)):
        if span.startswith(PREFIXES):
            commands += _segments(span)
    return list(dict.fromkeys(commands))


def readme_snippets(text: str) -> list[str]:
    return [
        body
        for language, body in _blocks(text)
        if language == "python" and NOT_RUN not in body.split("\n")[0]
    ]


def readme_config_files(text: str) -> list[str]:
    """Example ``--config`` files: fenced ```toml and ```json blocks."""
    return [body for language, body in _blocks(text) if language in ("toml", "json")]


TEXT = README.read_text(encoding="utf-8")
COMMANDS = readme_commands(TEXT)
SNIPPETS = readme_snippets(TEXT)
CONFIG_FILES = readme_config_files(TEXT)


class _Parsed(BaseException):
    """Raised by the patched ``parse_args``: the module's arguments parsed, stop before it does any work."""


def _stop_after_parsing(monkeypatch) -> None:
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise _Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    expanded: list[str] = []
    for word in words:
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        expanded += matches or [word]
    return expanded


def _check_realnets(argv: list[str], monkeypatch) -> None:
    from realnets.cli import _DELEGATED, build_parser

    if argv and argv[0] in _DELEGATED:
        module_name = _DELEGATED[argv[0]][0]
        if importlib.util.find_spec(module_name) is None:
            pytest.fail(f"README runs `realnets {argv[0]}`, but {module_name} does not exist")
        module = importlib.import_module(module_name)
        _stop_after_parsing(monkeypatch)
        with pytest.raises(_Parsed):
            module.main(argv[1:])
        return
    build_parser().parse_args(argv)  # our _Parser raises UsageError (one line) on a bad argument


def _check_python_module(argv: list[str], monkeypatch) -> None:
    if argv[:1] != ["-m"] or len(argv) < 2:
        pytest.fail(f"expected `python -m MODULE ...`, got {argv}")
    module = argv[1]
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"README runs `python -m {module}`, which does not exist")
    if module in IMPORT_ONLY:
        return
    _stop_after_parsing(monkeypatch)
    monkeypatch.setattr(sys, "argv", [module, *argv[2:]])
    for name in (module, f"{module}.__main__"):  # runpy runs a fresh copy (restored after the test)
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    except _Parsed:
        return
    except SystemExit as exit_:
        pytest.fail(
            f"`python -m {module} {' '.join(argv[2:])}` exited with {exit_.code}: its arguments did not parse"
        )
    pytest.fail(
        f"`python -m {module}` parsed no arguments with argparse (it ran instead; mark it `# not run`)"
    )


def test_the_readme_has_commands_and_snippets():
    # The extraction itself: if this fails, the README's layout changed and the other tests check nothing.
    assert any(c.startswith("realnets train") for c in COMMANDS), COMMANDS
    assert any(c.startswith("python -m ") for c in COMMANDS), COMMANDS
    assert SNIPPETS


def test_extraction_rules():
    text = (
        "```bash\nrealnets list   # all\npip install x && python -m sim.bench --x 1\nrealnets env  # not run: slow\n"
        "```\n\n```\n$ realnets train\noutput line\n```\nProse `realnets plot a/` and `--flag`.\n"
    )
    assert readme_commands(text) == [
        "realnets list",
        "python -m sim.bench --x 1",
        "realnets train",
        "realnets plot a/",
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_parses(command, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    argv = _argv(command)
    if argv[0] == "realnets":
        _check_realnets(argv[1:], monkeypatch)
    elif argv[0] == "python":
        _check_python_module(argv[1:], monkeypatch)
    elif argv[0] == "torchrun":
        script = [i for i, word in enumerate(argv) if word == "-m" or word.endswith(".py")]
        assert script, f"torchrun without a module or script: {command}"
        if argv[script[0]] == "-m":
            _check_python_module(argv[script[0] :], monkeypatch)
        else:
            assert (README.parent / argv[script[0]]).is_file(), command


def _cheap(argv: list[str]) -> bool:
    if argv[:1] in (["list"], ["env"]):
        return True
    if argv[:1] != ["train"] or any(word in argv for word in ("--resume", "--config")):
        return False
    args = vars(__import__("realnets.cli", fromlist=["build_parser"]).build_parser().parse_args(argv))
    return args.get("dataset", "digits") in CHEAP_DATASETS and args.get("model", "mlp") in CHEAP_MODELS


def test_cheap_readme_commands_run_for_real(monkeypatch, tmp_path, capsys):
    from realnets.cli import main

    monkeypatch.chdir(tmp_path)
    ran = []
    for command in COMMANDS:
        argv = _argv(command)
        if argv[0] != "realnets":
            continue
        argv = argv[1:]
        if _cheap(argv):
            argv = argv + TINY_BUDGET if argv[0] == "train" else argv
        elif argv[:1] == ["plot"] and all(Path(p).exists() for p in argv[1:] if not p.startswith("-")):
            argv = [*argv, "--out", str(tmp_path / "readme-plot.png")] if "--out" not in argv else argv
        else:
            continue
        status = main(argv)
        err = capsys.readouterr().err
        assert status == 0, f"`{command}` exited {status}: {err}"
        ran.append(argv[0])
    assert "train" in ran and "list" in ran
    if any(c.startswith("realnets plot") for c in COMMANDS):
        assert "plot" in ran, "no `realnets plot` of the README found the runs it plots"


def test_a_wrong_readme_command_would_fail(monkeypatch, tmp_path):
    from realnets.cli import UsageError

    with pytest.raises(UsageError, match="--no-such-flag"):
        _check_realnets(["train", "--no-such-flag"], monkeypatch)
    with pytest.raises(pytest.fail.Exception, match="does not exist"):
        _check_python_module(["-m", "no_such_module_here"], monkeypatch)
    with pytest.raises(pytest.fail.Exception, match="did not parse"):  # sim.bench's own parser rejects it
        _check_python_module(["-m", "sim.bench", "--no-such-flag"], monkeypatch)


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_python_snippet_runs(index, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code = compile(SNIPPETS[index], f"README.md python block {index + 1}", "exec")
    exec(code, {"__name__": f"readme_snippet_{index}"})  # noqa: S102 - the README's own code


@pytest.mark.parametrize("index", range(len(CONFIG_FILES)))
def test_readme_config_file_is_a_valid_config(index, tmp_path):
    # An example settings file of the README loads and resolves (keys: the flag names, at top level).
    from realnets.cli import _resolved_config
    from realnets.config import load_config_file, make_config

    body = CONFIG_FILES[index]
    path = tmp_path / ("run.json" if body.lstrip().startswith("{") else "run.toml")
    path.write_text(body, encoding="utf-8")
    resolved = _resolved_config(make_config(load_config_file(str(path))))
    assert resolved["algo"] and resolved["hp"]
