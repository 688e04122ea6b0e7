"""Every help page: no ``<bool>``/``<str>`` type tags, and the exit codes where scripts look."""

from __future__ import annotations

import re
from collections.abc import Iterator

import typer

from estate.cli import app
from served import Estate, words

TAG = re.compile(r"<[a-z][\w\[\], |]*>")


def command_paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from command_paths(sub, (*path, name))


def test_no_help_page_shows_a_type_tag(offline: Estate) -> None:
    paths = list(command_paths(typer.main.get_command(app)))
    assert len(paths) > 40  # every noun and verb, not just the root

    for path in paths:
        result = offline.ok(*path, "--help")
        assert not TAG.search(result.stdout), (path, TAG.findall(result.stdout))
        assert "Usage: " in result.stdout


def test_the_root_help_lists_the_exit_codes_and_global_options(offline: Estate) -> None:
    text = words(offline.ok("--help"))

    for option in ("--url URL", "--token TOKEN", "--username NAME", "--password PASSWORD"):
        assert option in text
    assert "Exit codes: 0 success" in text
    assert (
        "3 not found; 4 not authenticated or not allowed; 5 the service cannot be reached" in text
    )


def test_options_show_their_metavars(offline: Estate) -> None:
    text = words(offline.ok("provider", "update", "--help"))

    assert "-c KEY=VALUE" in text
    assert "--output -o FORMAT" in text
    assert "--enable --disable Let it collect" in text
