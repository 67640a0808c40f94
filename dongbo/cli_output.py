"""How every command speaks: progress on stderr, errors in red with an exit code (1: the work
failed, 2: the request was wrong, as usage errors go)."""

from __future__ import annotations

from typing import NoReturn

import typer

USAGE = 2


def say(msg: str) -> None:
    typer.echo(msg, err=True)


def fail(msg: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def usage(msg: str) -> NoReturn:
    fail(msg, USAGE)
