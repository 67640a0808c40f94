"""``dongbo``: one command line for every job. Each sub-command has ``--help``."""

from __future__ import annotations

import faulthandler
import logging
import shlex
import signal
import sys
from pathlib import Path

import typer

from contract.settings import get_settings
from dongbo.cli_output import fail, say

app = typer.Typer(
    name="dongbo",
    help="dongbo (đồng bộ): one live, trustworthy status for every dossier (hồ sơ) of the city.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
stack_app = typer.Typer(help="The local stack without Docker: Kafka (KRaft) and Redis on loopback.")
app.add_typer(stack_app, name="stack")


@stack_app.command("up")
def stack_up(
    service: list[str] = typer.Option(
        None, "--service", "-s", help="only these services (kafka, redis, prometheus, alertmanager)"
    ),
) -> None:
    """Start the stack (idempotent: running services are left alone) and create the topics."""
    from dongbo import stack

    try:
        for st in stack.up(get_settings(), say, service or None):
            typer.echo(f"{st.name:<12} up    pid {st.pid:<8} {st.address}")
    except stack.StackError as exc:
        fail(str(exc))


@stack_app.command("down")
def stack_down(
    service: list[str] = typer.Option(None, "--service", "-s", help="only these services"),
) -> None:
    """Stop the demo worker and the services this project started (data is kept; `make clean` removes it)."""
    from dongbo import stack
    from dongbo.demo import stop_worker

    if not service and stop_worker(get_settings()):
        say("worker: stopped")
    stack.down(get_settings(), say, service or None)


@stack_app.command("env")
def stack_env(
    principal: str = typer.Option(
        ..., "--as", help="who logs in: worker, sink, reader, admin, or src-<system> (e.g. src-portal)"
    ),
) -> None:
    """Print the settings (shell `export` lines) a process needs to reach the secure stack as a
    principal: the files holding its secrets, never the secrets.

    Use: eval "$(dongbo stack env --as worker)" before `dongbo worker`."""
    from contract.settings import settings_env
    from dongbo.stack_secure import PRINCIPALS, settings_as

    settings = get_settings()
    if not settings.stack.secure:
        fail("the stack is not in the secure profile: set DONGBO_STACK_SECURE=true (docs/security.md)")
    if principal not in PRINCIPALS:
        fail(f"no principal {principal!r}; the secure stack has: {', '.join(PRINCIPALS)}", code=2)
    env = settings_env(settings_as(settings, principal))
    env["DONGBO_STACK_SECURE"] = "true"
    for name in sorted(env):
        if name.startswith(("DONGBO_KAFKA_", "DONGBO_REDIS_", "DONGBO_STACK_")):
            typer.echo(f"export {name}={shlex.quote(env[name])}")


@stack_app.command("compose-secrets")
def stack_compose_secrets(
    out: Path = typer.Argument(Path("secrets/compose"), help="where to write (git ignores secrets/)"),
) -> None:
    """Make the secure profile's files for docker-compose.secure.yml: a CA and the broker's
    certificate, one password per principal, the broker's properties and start script, Redis's ACL
    file; one folder per container (docs/security.md). Idempotent: secrets made once are kept.

    Run it as root (e.g. `sudo`) so that each folder goes to the user its container runs as."""
    from dongbo.compose_secure import write_compose_secrets

    try:
        write_compose_secrets(out, get_settings().kafka.partitions, say)
    except (OSError, RuntimeError) as exc:
        fail(f"could not write the compose secrets in {out}: {exc}")


@stack_app.command("secure-apply")
def stack_secure_apply(
    secrets: Path = typer.Option(..., help="the admin's folder: every principal's password"),
) -> None:
    """As the admin (the DONGBO_KAFKA_* settings): create the topics, every principal's SCRAM user
    and the ACLs. Idempotent; docker-compose.secure.yml runs it before the workers start."""
    from contract.topics import ensure_topics
    from dongbo.stack_secure import SecureFiles, apply_security

    settings = get_settings()
    if settings.kafka.security_protocol != "SASL_SSL":
        fail(
            "secure-apply logs in as the admin over SASL_SSL: set DONGBO_KAFKA_SECURITY_PROTOCOL=SASL_SSL "
            "and the admin's DONGBO_KAFKA_SASL_* settings (docs/security.md)"
        )
    created = ensure_topics(settings)
    if created:
        say(f"kafka: created topics {', '.join(created)}")
    apply_security(settings, SecureFiles(secrets), say)


@stack_app.command("status")
def stack_status() -> None:
    """Say whether each service is up, and how to reach it. Exit code 1 when one is down."""
    from dongbo import stack

    all_up = True
    for st in stack.status(get_settings()):
        state = "up" if st.running else "DOWN"
        all_up &= st.running
        pid = str(st.pid) if st.pid else "-"
        typer.echo(f"{st.name:<12} {state:<5} pid {pid:<8} {st.address:<28} {st.detail}")
    raise typer.Exit(0 if all_up else 1)


@app.command("worker")
def worker(
    loglevel: str = typer.Option("info", "--loglevel", "-l", help="debug, info, warning, error"),
) -> None:
    """Run the Faust stream worker: normalise, merge, publish the unified state, conflicts and alerts.

    Start several (same settings) to share the partitions; the sinks run apart (`dongbo sink`)."""
    from contract.settings import InsecureSettings
    from streams.app import run_worker

    try:
        run_worker(get_settings(), loglevel)
    except InsecureSettings as exc:
        fail(str(exc))


@app.command("sink")
def sink(
    name: str = typer.Argument("redis", help="which sink: redis (live figures and dossier lookups)"),
    batch: int = typer.Option(500, min=1, help="most states per write"),
) -> None:
    """Run a sink in its own process and consumer group: dossier.state in, batched writes out.

    A slow or failing sink never slows the worker; a failed write is retried from the same offsets.
    Stop with Ctrl-C or SIGTERM (the batch in hand is finished and committed first)."""
    from dongbo.sink import run_sink

    try:
        run_sink(get_settings(), name, batch, say)
    except ValueError as exc:
        fail(str(exc))


@app.command("notify")
def notify(
    subscriptions: Path = typer.Option(None, "--subscriptions", help="officials file (default: the setting)"),
    check_only: bool = typer.Option(False, "--check", help="validate the subscriptions file and stop"),
) -> None:
    """Notify ward officials: near-deadline digests and overdue alerts for their units, by email and
    webhook, held outside office hours until the unit's next opening (docs/notifications.md)."""
    from dongbo.notify import run_notify
    from sinks.notify.subscriptions import SubscriptionError, load_subscriptions

    path = subscriptions or get_settings().notify.subscriptions
    try:
        if check_only:
            subs = load_subscriptions(path)
            units = sorted({u for s in subs for u in s.units})
            say(f"{path}: {len(subs)} official(s), {len(units)} unit(s): valid")
            return
        run_notify(get_settings(), path, say)
    except (SubscriptionError, ValueError) as exc:
        fail(str(exc))


@app.command("dossier")
def dossier(
    dossier_id: str = typer.Argument(..., help="dossier code (mã hồ sơ), e.g. 000.00.15.H17-251125-0001"),
    as_json: bool = typer.Option(False, "--json", help="print the whole state as JSON"),
) -> None:
    """Show one dossier's unified status and what every source system says of it."""
    import json

    from sinks.lookup import DossierNotFound, render_dossier

    try:
        doc = render_dossier(get_settings(), dossier_id)
    except DossierNotFound as exc:
        fail(str(exc), code=2)
        return
    text = doc.pop("_text")
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=2) if as_json else text)


@app.command("demo")
def demo(
    dossiers: int = typer.Option(3000, help="dossiers in the simulated working day"),
    seed: int = typer.Option(7, help="random seed of the simulation"),
) -> None:
    """Replay a simulated working day through the running stack and worker, then print a summary."""
    from dongbo.demo import run_demo

    run_demo(get_settings(), dossiers=dossiers, seed=seed)


@app.command("accuracy")
def accuracy(
    truth: Path = typer.Option(
        ..., "--truth", exists=True, dir_okay=False, help="the simulator's truth (JSON Lines)"
    ),
    as_of: str = typer.Option(
        None, "--as-of", help="judge open dossiers at this ISO time (default: the run's end)"
    ),
    replay_dir: Path = typer.Option(
        None,
        "--replay",
        file_okay=False,
        help="score an in-process replay of `dongbo simulate --out DIR` (no broker, no Redis) "
        "instead of the states the worker left in Redis",
    ),
) -> None:
    """Compare the engine's results with a simulation's truth: due times, outcomes, discrepancies
    and conflicts. Exit code 1 unless everything is right."""
    from datetime import datetime

    from dongbo.accuracy import load_states, read_truth, render, score, truth_end

    truths = list(read_truth(truth))
    end = datetime.fromisoformat(as_of) if as_of else truth_end(truth)
    if end is None:
        fail("the truth has no summary file with its end time: give --as-of")
        return
    if replay_dir is not None:
        from dongbo.replay import replay
        from streams.configured import worker_policy

        settings = get_settings()

        def said(n: int) -> None:
            typer.echo(f"replay: {n:,} records", err=True)

        try:
            replayed = replay(replay_dir, worker_policy(settings), settings.kafka.partitions, said, until=end)
        except FileNotFoundError as exc:
            fail(str(exc), code=2)
            return
        typer.echo(f"replayed {replayed.records:,} records in-process; dead letters: "
                   f"{dict(replayed.dead_letters) or 'none'}", err=True)  # fmt: skip
        states = replayed.states
    else:
        states = load_states(get_settings(), (t["dossier_id"] for t in truths))
    result = score(truths, states, end)
    typer.echo(render(result))
    raise typer.Exit(0 if result.perfect else 1)


@app.command("watermark")
def watermark(
    until: str = typer.Argument(..., help="ISO time with its offset, e.g. 2026-03-12T00:00:00+07:00"),
    wait: bool = typer.Option(
        True, help="first wait until the worker has consumed the replay, then for what the tick fired"
    ),
) -> None:
    """Replays (stream clock): move every partition's stream time to UNTIL, so deadlines and
    tolerances that pass after a partition's last event fire. Run it once the replay is sent."""
    from datetime import datetime

    from dongbo.watermark import close_replay, send_watermark

    try:
        when = datetime.fromisoformat(until)
        if wait:
            lag = close_replay(
                get_settings(),
                when,
                progress=lambda n: (
                    typer.echo(f"watermark: {n:,} message(s) still to process", err=True) if n else None
                ),
            )
            if lag:
                fail(f"the worker still has {lag} message(s) to process: is `dongbo worker` running?")
                return
            typer.echo(f"stream time moved to {when.isoformat()} on every partition; the worker caught up")
        else:
            n = send_watermark(get_settings(), when)
            typer.echo(f"sent a watermark tick to {n} partition(s): {when.isoformat()}")
    except ValueError as exc:
        fail(f"{exc} (expected an ISO time with its offset, e.g. 2026-03-12T00:00:00+07:00)", code=2)


# -- sub-commands contributed by other modules (one line each) ---------------------------------
# (registration block: keep one `_register(...)` line per module)


def _register() -> None:
    from dongbo.cli_bench import register as register_bench
    from dongbo.cli_dlq import register as register_dlq
    from dongbo.cli_domain import register as register_domain
    from dongbo.cli_import import register as register_import
    from dongbo.cli_reconcile import register as register_reconcile
    from dongbo.cli_simulate import register as register_simulate
    from dongbo.cli_stats import register as register_stats

    for register in (
        register_dlq,
        register_import,
        register_domain,
        register_simulate,
        register_bench,
        register_stats,
        register_reconcile,
    ):
        register(app)


_register()


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # `kill -USR1 <pid>` writes every thread's Python stack to the log: where a process that does
    # not stop is stuck (the worker's Faust replaces it with its own dump of asyncio tasks).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    app()
