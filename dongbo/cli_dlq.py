"""``dongbo dlq list|show|replay``: look at dead letters and replay them after a fix."""

from __future__ import annotations

import json
from collections import Counter

import typer

from contract.settings import get_settings

dlq_app = typer.Typer(help="Dead letters (dossier.dlq): input dongbo could not use, kept whole.")


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def list_cmd(
    reason: str = typer.Option(None, help="only this reason (e.g. unknown_status)"),
    source_topic: str = typer.Option(None, "--topic", help="only letters that came from this topic"),
    limit: int = typer.Option(50, help="at most this many rows (counts are over all)"),
) -> None:
    """One row per dead letter: its id (PARTITION:OFFSET), reason, origin and when it failed."""
    from dongbo.dlq import read_dead_letters

    counts: Counter[str] = Counter()
    shown = 0
    for stored in read_dead_letters(get_settings()):
        letter = stored.letter
        if letter is None:
            counts["(undecodable DLQ record)"] += 1
            continue
        if (reason and letter.reason != reason) or (source_topic and letter.source_topic != source_topic):
            continue
        counts[letter.reason] += 1
        if shown < limit:
            typer.echo(
                f"{stored.ref:<10} {letter.reason:<17} {letter.stage:<9} "
                f"{letter.source_topic}[{letter.partition}]@{letter.offset}"
                f"  {letter.failed_at:%Y-%m-%d %H:%M:%S}"
                f"  {letter.detail[:80]}"
            )
            shown += 1
    total = sum(counts.values())
    typer.echo(
        f"{total} dead letter(s)"
        + (": " + ", ".join(f"{k} {v}" for k, v in counts.most_common()) if total else "")
    )


@dlq_app.command("show")
def show_cmd(ref: str = typer.Argument(..., help="PARTITION:OFFSET as printed by `dongbo dlq list`")) -> None:
    """Everything about one dead letter, with its raw bytes in hex."""
    from dongbo.dlq import find

    try:
        stored = find(get_settings(), ref)
    except (ValueError, LookupError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    letter = stored.letter
    if letter is None:
        typer.echo(f"{ref}: the DLQ record itself does not decode: {stored.error}")
        return
    doc = letter.to_record()
    doc["failed_at"] = letter.failed_at.isoformat()
    doc["key"] = letter.key.decode(errors="replace") if letter.key else None
    doc["value"] = letter.value.hex() if letter.value else None
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))


@dlq_app.command("replay")
def replay_cmd(
    refs: list[str] = typer.Argument(None, help="PARTITION:OFFSET ids; none with --reason replays all of it"),
    reason: str = typer.Option(None, help="replay every letter with this reason"),
    yes: bool = typer.Option(False, "--yes", help="do it without asking"),
) -> None:
    """Publish dead letters' original bytes again to the topic they came from (after a fix).

    Safe to repeat: events that were applied before are recognised by their id and not applied twice.
    """
    from dongbo.dlq import read_dead_letters, replay

    if not refs and not reason:
        typer.secho("error: name letters (PARTITION:OFFSET) or a --reason", err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    chosen = [
        s
        for s in read_dead_letters(get_settings())
        if s.letter is not None and ((refs and s.ref in refs) or (reason and s.letter.reason == reason))
    ]
    if not chosen:
        typer.echo("nothing to replay")
        return
    if not yes and not typer.confirm(f"replay {len(chosen)} dead letter(s)?"):
        raise typer.Exit(1)
    n = replay(get_settings(), chosen)
    typer.echo(f"replayed {n} dead letter(s) to their source topics")
