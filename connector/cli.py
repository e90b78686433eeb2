"""The ``ventanilla`` command line."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from connector.config import ENV_VAR, Config, ConfigError, load_config
from connector.runtime import Runtime
from connector.store import Store
from mappings import Mapping

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    """Every command takes ``--config FILE`` (or ``$VENTANILLA_CONFIG``)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar=ENV_VAR,
        help=f"Configuration YAML (default: ${ENV_VAR}, else built-in defaults: SQLite + local desk).",
    )(func)


def _load(config_path: str | None) -> Config:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _store(config_path: str | None, config: Config | None = None) -> Store:
    """Open the configured store, creating missing tables."""
    store = Store((config or _load(config_path)).database_url)
    store.create_schema()
    return store


def _runtime(config_path: str | None) -> Runtime:
    config = _load(config_path)
    try:
        return Runtime(config, _store(config_path, config))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _print_rows(
    rows: list[dict[str, Any]], as_json: bool, empty: str, line: Callable[[dict[str, Any]], str]
) -> None:
    """Print rows as a JSON array, or one readable entry each (``empty`` when there are none)."""
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(empty)
    for row in rows:
        click.echo(line(row))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Ventanilla: social interactions in, tickets in your desk, replies back out."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="HTTP threads.")
def serve(config_path: str | None, host: str, port: int, threads: int) -> None:
    """Run the webhook endpoints and the embedded dispatcher in one process."""
    import waitress

    from connector.dispatcher import Dispatcher
    from connector.poll_schedule import PollSchedule
    from connector.reconcile_schedule import ReconcileSchedule
    from connector.sla_monitor import SlaMonitor
    from webhooks import create_app

    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger().setLevel(logging.INFO)
    _require_current_schema(config_path)
    runtime = _runtime(config_path)
    app = create_app(runtime.config, store=runtime.store)
    dispatcher = Dispatcher(runtime)
    dispatcher.start()
    scheduler = ReconcileSchedule(runtime)
    scheduler.start()
    monitor = SlaMonitor(runtime)
    monitor.start()
    poller = PollSchedule(runtime)
    poller.start()
    click.echo(
        f"ventanilla listening on http://{host}:{port} ({runtime.config.dispatcher.workers} worker(s))"
    )
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="ventanilla")
    finally:
        poller.stop()
        monitor.stop()
        scheduler.stop()
        dispatcher.stop()


@main.command()
@click.option("--keep", type=click.Path(file_okay=False), help="Keep the demo database in this folder.")
def demo(keep: str | None) -> None:
    """Run the whole loop on the embedded default, with signed sample webhooks."""
    from connector.demo import run_demo

    sys.exit(run_demo(keep))


@main.command()
@config_option
@click.option("--timeout", default=60.0, show_default=True, help="Stop after this many seconds.")
def dispatch(config_path: str | None, timeout: float) -> None:
    """Process every due job now, then exit (for cron-style setups and operators)."""
    from connector.dispatcher import Dispatcher

    handled = Dispatcher(_runtime(config_path)).run_until_idle(timeout)
    click.echo(f"{handled} job(s) handled")


def parse_duration(value: str) -> timedelta:
    """``90m``, ``6h``, ``2d``, ``45s`` or ``1w`` → a timedelta (for ``--since``)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", value.lower())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration; use e.g. 90m, 6h, 2d or 1w")
    amount, unit = float(match.group(1)), match.group(2)
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    if amount <= 0:
        raise click.BadParameter("the duration must be more than zero")
    return timedelta(seconds=amount * seconds)


@main.command()
@config_option
@click.option(
    "--since",
    "since_text",
    help="Look back this far (e.g. 6h, 2d). Default: since the last run (10 min overlap), "
    "else reconcile.lookback_hours.",
)
@click.option("--no-process", is_flag=True, help="Only ingest; a running `serve` makes the tickets.")
def reconcile(config_path: str | None, since_text: str | None, no_process: bool) -> None:
    """Fetch comments and mentions the webhooks missed, and ingest them (exactly once)."""
    from connector.dispatcher import Dispatcher
    from connector.reconcile import reconcile as run_reconcile

    since = parse_duration(since_text) if since_text else None
    runtime = _runtime(config_path)
    err = sys.stderr
    interactive = err.isatty()

    def progress(message: str) -> None:
        if interactive:
            err.write(f"\r\033[K{message[:110]}")
            err.flush()

    report = run_reconcile(runtime, since, progress)
    if interactive:
        err.write("\r\033[K")
    for line in report.lines():
        click.echo(line)
    click.echo(f"recovered {report.total_recovered} interaction(s) the webhooks missed")
    if report.total_recovered and not no_process:
        handled = Dispatcher(runtime).run_until_idle()
        click.echo(f"{handled} job(s) handled")
    if not report.ok:
        sys.exit(1)


class _TriageGroup(click.Group):
    """``ventanilla triage FILE`` runs the triage; ``ventanilla triage eval FILE`` measures it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_TriageGroup)
def triage() -> None:
    """Triage a JSON Lines file (`triage FILE --json`), measure it against labels (`triage eval FILE`),
    or train the nature model on labelled files (`triage train DIR --out FILE`).

    Each line is the generic endpoint's body, optionally with ``customer: {"value", "tier"}``
    and, for ``eval``, ``label: {"nature", "sentiment", "pii", "priority", "clear", "language"}``.
    """


def _triage_file(config_path: str | None, file: Path) -> tuple[list[tuple[Any, str, Any]], int]:
    """Triage every valid line (progress bar on a terminal); report bad lines on stderr."""
    from connector.triage_batch import BatchInputError, read_records, triage_record

    settings = _load(config_path).triage
    _configure_pii(settings)
    entries = list(read_records(file))
    results: list[tuple[Any, str, Any]] = []
    bad = 0
    with click.progressbar(
        entries, label="triage", file=sys.stderr, show_pos=True, hidden=not sys.stderr.isatty()
    ) as bar:
        for entry in bar:
            if isinstance(entry, BatchInputError):
                bad += 1
                click.echo(str(entry), err=True)
                continue
            language, result = triage_record(entry, settings)
            results.append((entry, language, result))
    return results, bad


def _configure_pii(settings: Any) -> None:
    from connector.pii_rules import configure

    try:
        configure(settings.phone_regions, settings.national_id_countries)
    except ValueError as exc:
        raise click.ClickException(f"triage.national_id_countries: {exc}") from None


@triage.command("run", hidden=True)
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (external_id, nature, …).")
def triage_run(config_path: str | None, file: Path, as_json: bool) -> None:
    """Triage each line of FILE and print the result."""
    from connector.triage_batch import result_row

    results, bad = _triage_file(config_path, file)
    for record, language, result in results:
        row = result_row(record, language, result)
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(
                f"{row['external_id']}  {row['priority']}  {row['nature']:<18} {row['sentiment']}  "
                f"{row['language']}  {row['explanation']}"
            )
    if bad:
        click.echo(f"{bad} line(s) skipped", err=True)
        sys.exit(1)


@triage.command("eval")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def triage_eval(config_path: str | None, file: Path, as_json: bool) -> None:
    """Compare triage with the labels in FILE: precision/recall per class and a confusion table."""
    from connector.triage_batch import result_row
    from connector.triage_eval import Outcome, evaluate, report_lines

    results, bad = _triage_file(config_path, file)
    outcomes = [
        Outcome(record.interaction.external_id, record.label, result_row(record, language, result))
        for record, language, result in results
        if record.label is not None
    ]
    if not outcomes:
        raise click.ClickException(f"{file}: no line carries a label")
    evaluation = evaluate(outcomes)
    if as_json:
        _echo_json(evaluation.metrics())
    else:
        for line in report_lines(evaluation):
            click.echo(line)
    if bad:
        click.echo(f"{bad} line(s) skipped", err=True)
        sys.exit(1)


@triage.command("train")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The model file to write (.npz); name it in triage.nature_model.",
)
@click.option(
    "--exclude", multiple=True, metavar="FOLDER", help="Skip files under a folder of this name (repeatable)."
)
def triage_train(paths: tuple[Path, ...], out: Path, exclude: tuple[str, ...]) -> None:
    """Train the nature model on labelled JSON Lines files, or folders of them (read recursively).

    The lines are the ones `triage eval` reads. Measure a model on lines it was not trained
    on: `--exclude` a folder, then `triage eval` it with triage.nature_model set to --out.
    """
    from connector.nature_model import NatureModelError, save, train
    from connector.nature_training import read_training_data

    data = read_training_data(paths, exclude)
    for error in data.errors:
        click.echo(error, err=True)
    if not data.lines:
        raise click.ClickException("no labelled line found (each needs label.nature)")
    click.echo(f"training on {len(data.lines)} labelled lines from {len(data.files)} file(s)…", err=True)
    try:
        model = train(data.examples())
    except NatureModelError as exc:
        raise click.ClickException(str(exc)) from None
    save(model, out)
    per_nature = ", ".join(f"{nature} {count}" for nature, count in model.info["per_nature"].items())
    click.echo(f"wrote {out} ({out.stat().st_size // 1024} KiB): {per_nature}")
    if data.unlabelled:
        click.echo(f"{data.unlabelled} line(s) without label.nature skipped", err=True)
    if data.errors:
        click.echo(f"{len(data.errors)} bad line(s) skipped", err=True)
        sys.exit(1)


@main.group()
def sync() -> None:
    """Bring ticket status back from desks."""


@sync.command("poll")
@config_option
@click.option(
    "--desk", "desks", multiple=True, help="Only this desk (repeatable). Default: every polled desk."
)
@click.option("--no-sync", is_flag=True, help="Only record the changes; a running `serve` will reply.")
def sync_poll(config_path: str | None, desks: tuple[str, ...], no_sync: bool) -> None:
    """Read status changes since the stored watermark, for desks that cannot call us back."""
    from connector.crm.base import ConnectorError
    from connector.dispatcher import Dispatcher
    from connector.poll import poll_desk, pollable_desks

    runtime = _runtime(config_path)
    try:
        names = pollable_desks(runtime, desks)
    except KeyError as exc:
        raise click.ClickException(f"no such desk: {exc.args[0]}") from None
    if not names:
        click.echo("no desk to poll (the local desk records its status changes itself)")
        return
    failed = []
    for name in names:
        try:
            result = poll_desk(runtime, name)
        except ConnectorError as exc:
            failed.append(name)
            click.echo(f"{name}: {exc}", err=True)
            continue
        click.echo(
            f"{name}: {result.read} change(s) read, {result.recorded} new, watermark {result.watermark}"
        )
    if not no_sync:
        handled = Dispatcher(runtime).run_until_idle()
        click.echo(f"{handled} job(s) handled")
    if failed:
        raise click.ClickException(f"polling failed for {', '.join(failed)}")


# --- tickets ---------------------------------------------------------------------------


@main.group()
def tickets() -> None:
    """Tickets in the built-in local desk."""


@tickets.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--desk", help="Only this desk.")
def tickets_list(config_path: str | None, as_json: bool, desk: str | None) -> None:
    """List local tickets with priority and explanation."""
    from connector.crm.local import list_local_tickets

    store = _store(config_path)
    rows = list_local_tickets(store, desk)
    _print_rows(
        rows,
        as_json,
        "no tickets",
        lambda row: (
            f"{row['number']}  {row['status']:<8} {row['priority'] or '--'}  {row['desk']}  "
            f"{row['interaction_count']} msg  {row['thread_key']}\n      {row['explanation']}"
            + (f"\n      ⚠ {row['reply_flag']}" if row["reply_flag"] else "")
        ),
    )


@tickets.command("resolve")
@config_option
@click.argument("ticket_id")
@click.option("--note", required=True, help="Resolution note (internal, never posted).")
@click.option("--close", is_flag=True, help="Close without a fix instead of resolving.")
@click.option(
    "--reply", "public_reply", help="An agent-written public reply to post instead of the template."
)
@click.option("--no-sync", is_flag=True, help="Only queue the reply; a running `serve` will post it.")
def tickets_resolve(
    config_path: str | None, ticket_id: str, note: str, close: bool, public_reply: str | None, no_sync: bool
) -> None:
    """Resolve a local ticket; its reply is queued atomically and (by default) produced now."""
    from connector.crm.local import TicketNotFoundError, TicketStateError, resolve_ticket
    from connector.dispatcher import Dispatcher

    runtime = _runtime(config_path)
    status = "closed" if close else "resolved"
    try:
        change_id = resolve_ticket(
            runtime.store, ticket_id.removeprefix("L-").lstrip("0") or "0", note, status, public_reply
        )
    except (TicketNotFoundError, TicketStateError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ticket {ticket_id} {status} (status change {change_id})")
    if no_sync:
        return
    Dispatcher(runtime).run_until_idle()
    for reply in runtime.store.list_replies():
        if reply.status_change_id == change_id:
            click.echo(
                f"reply ({reply.mode}, {reply.state}, {reply.channel}) on {reply.platform} "
                f"to {reply.in_reply_to}:\n  {reply.text}"
            )


# --- replies, customers, dead letters ---------------------------------------------------


@main.group()
def replies() -> None:
    """Replies recorded by the sync step."""


@replies.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--state", help="Only replies in this state, e.g. awaiting_approval, uncertain.")
def replies_list(config_path: str | None, as_json: bool, state: str | None) -> None:
    """List replies: posted, awaiting approval, or settled without posting (and why)."""
    store = _store(config_path)
    rows = [asdict(reply) for reply in store.list_replies() if state is None or reply.state == state]
    _print_rows(
        rows,
        as_json,
        "no replies",
        lambda row: (
            f"#{row['id']} ticket {row['ticket_id']} {row['platform']} → {row['in_reply_to']} "
            f"[{row['mode']}, {row['state']}, {row['channel']}]\n  {row['text']}"
            + (f"\n  ({row['detail']})" if row["detail"] else "")
        ),
    )


def _release(
    config_path: str | None, reply_id: int, expected: frozenset[str], action: str, now: bool
) -> None:
    from connector.dispatcher import Dispatcher
    from connector.store_links import ReplyStateError

    runtime = _runtime(config_path)
    try:
        runtime.store.release_reply(reply_id, expected, actor="cli", action=action)
    except ReplyStateError as exc:
        raise click.ClickException(str(exc)) from None
    if now:
        Dispatcher(runtime).run_until_idle()
    reply = runtime.store.get_reply(reply_id)
    assert reply is not None
    click.echo(
        f"reply #{reply.id} {action}: now {reply.state}" + (f" ({reply.detail})" if reply.detail else "")
    )
    if reply.platform_reply_id:
        click.echo(f"  posted on {reply.platform} as {reply.platform_reply_id}")


@replies.command("approve")
@config_option
@click.argument("reply_id", type=int)
@click.option("--no-send", is_flag=True, help="Only queue it; a running `serve` will post it.")
def replies_approve(config_path: str | None, reply_id: int, no_send: bool) -> None:
    """Approve a reply waiting in publish mode `approve`, and post it."""
    _release(config_path, reply_id, frozenset({"awaiting_approval"}), "approved", not no_send)


@replies.command("retry")
@config_option
@click.argument("reply_id", type=int)
@click.option("--no-send", is_flag=True, help="Only queue it; a running `serve` will post it.")
def replies_retry(config_path: str | None, reply_id: int, no_send: bool) -> None:
    """Try again a reply that failed, found its window closed, or may have been posted (uncertain).

    Check the platform first for an `uncertain` reply: retrying posts it again.
    """
    from connector.store_links import REPLY_RETRYABLE

    _release(config_path, reply_id, REPLY_RETRYABLE, "retried", not no_send)


@replies.command("reject")
@config_option
@click.argument("reply_id", type=int)
@click.option("--reason", help="Why (kept in the audit log).")
def replies_reject(config_path: str | None, reply_id: int, reason: str | None) -> None:
    """Reject a reply waiting for approval: it is never posted."""
    from connector.store_links import ReplyStateError

    store = _store(config_path)
    try:
        reply = store.reject_reply(reply_id, actor="cli", reason=reason)
    except ReplyStateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"reply #{reply.id} rejected")


@main.group()
def crisis() -> None:
    """Crises raised by bursts of negative interactions on one topic."""


@crisis.command("list")
@config_option
@click.option(
    "--days", default=7.0, show_default=True, help="Also closed crises started this many days back."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def crisis_list(config_path: str | None, days: float, as_json: bool) -> None:
    """List open and recent crises with their parent ticket and alert state."""
    from connector.crisis import crisis_report

    config = _load(config_path)
    rows = crisis_report(_store(config_path, config), config.crisis, days)
    _print_rows(
        rows,
        as_json,
        "no crises",
        lambda row: (
            f"#{row['id']} {row['topic']} [{row['state']}] {row['count']} interaction(s) since "
            f"{row['started_at'][:16]} UTC; parent ticket "
            f"{row['parent_ticket_number'] or row['parent_ticket_id'] or '(pending)'}"
            f"; alert {'sent' if row['alerted'] else 'pending'}"
        ),
    )


@main.group()
def sla() -> None:
    """Service levels: what is unanswered, and for how long."""


@sla.command("report")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--overdue-only", is_flag=True, help="Only threads past their due time.")
def sla_report_command(config_path: str | None, as_json: bool, overdue_only: bool) -> None:
    """List unanswered threads, most overdue first, so nothing rots."""
    from connector.sla import format_report, sla_report

    rows = sla_report(_store(config_path), overdue_only=overdue_only)
    if as_json:
        _echo_json([row.to_dict() for row in rows])
        return
    lines = format_report(rows)
    click.echo("\n".join(lines) if rows else "nothing unanswered")


@main.group()
def privacy() -> None:
    """Data protection requests."""


@privacy.command("erase")
@config_option
@click.option(
    "--platform", required=True, type=click.Choice(["facebook", "instagram", "messenger", "x", "generic"])
)
@click.option(
    "--user-id", "user_id", required=True, help="The person's id on that platform (PSID, IGSID, X id…)."
)
def privacy_erase(config_path: str | None, platform: str, user_id: str) -> None:
    """Anonymise everything stored about one person (right to erasure) and print what was touched."""
    from connector.privacy import erase_person

    try:
        report = erase_person(_store(config_path), platform, user_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--user-id") from None
    for line in report.lines():
        click.echo(line)
    if not report.found:
        sys.exit(1)


@main.group()
def customers() -> None:
    """Customers of the built-in local desk."""


@customers.command("import")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def customers_import(config_path: str | None, file: Path) -> None:
    """Import customers from CSV (customer_id, name, email, phone, value, tier, <platform>_id/_handle)."""
    from connector.crm.local_customers import CustomerImportError, import_customers, read_customer_csv

    store = _store(config_path)
    try:
        rows = read_customer_csv(file)
    except CustomerImportError as exc:
        raise click.ClickException(f"nothing imported:\n{exc}") from None
    with click.progressbar(length=len(rows), label="importing customers", file=sys.stderr) as bar:
        result = import_customers(store, rows, bar.update)
    click.echo(f"{result.created} created, {result.updated} updated, {result.identities} identities")


@main.group()
def deadletters() -> None:
    """Jobs that failed every retry, kept with their last error."""


@deadletters.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "include_replayed", is_flag=True, help="Include dead letters already replayed.")
def deadletters_list(config_path: str | None, as_json: bool, include_replayed: bool) -> None:
    """List dead letters."""
    store = _store(config_path)
    rows = [asdict(d) for d in store.list_dead_letters(include_replayed)]
    _print_rows(
        rows,
        as_json,
        "no dead letters",
        lambda row: (
            f"#{row['id']} {row['kind']} ref {row['ref_id']} "
            f"after {row['attempts']} attempt(s): {row['error']}"
        ),
    )


@deadletters.command("replay")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
def deadletters_replay(config_path: str | None, ids: tuple[int, ...], replay_all: bool) -> None:
    """Queue dead letters again (by ID, or --all); replaying twice creates one ticket."""
    if not ids and not replay_all:
        raise click.UsageError("give dead letter IDs or --all")
    if ids and replay_all:
        raise click.UsageError("give IDs or --all, not both")
    store = _store(config_path)
    replayed = store.replay_dead_letters(None if replay_all else list(ids))
    missing = sorted(set(ids) - set(replayed))
    click.echo(f"{len(replayed)} dead letter(s) queued again")
    if missing:
        raise click.ClickException(f"not found or already replayed: {', '.join(map(str, missing))}")


# --- mappings ---------------------------------------------------------------------------


@main.group()
def mappings() -> None:
    """Check and preview field mappings."""


@mappings.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--live",
    is_flag=True,
    help="Also check the fields against the desk itself (Salesforce describe, HubSpot properties, "
    "SOAP WSDLs).",
)
@config_option
def mappings_validate(files: tuple[str, ...], live: bool, config_path: str | None) -> None:
    """Validate mapping files against the schema; print file:line: key: problem."""
    from mappings import MappingError, load_mapping, resolve_mapping_path

    failed = False
    for name in files:
        try:
            path = resolve_mapping_path(name, Path.cwd())
            mapping = load_mapping(path)
        except MappingError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(problem, err=True)
            continue
        if live and mapping.connector in LIVE_CHECKS:
            problems = _live_problems(config_path, mapping, path)
            failed = failed or bool(problems)
            for problem in problems:
                click.echo(f"{name}: {problem}", err=True)
            if problems:
                continue
        elif live:
            click.echo(f"{name}: no live check for connector {mapping.connector}")
        click.echo(f"{name}: ok")
    if failed:
        sys.exit(1)


LIVE_CHECKS = ("salesforce", "hubspot", "soap")


def _live_problems(config_path: str | None, mapping: Mapping, path: Path) -> list[str]:
    """Problems of a mapping on the configured org or portal (describe, or property definitions)."""
    from connector.crm.base import ConnectorError

    if mapping.connector == "hubspot":
        from connector.crm.hubspot_properties import check_mapping_live
    elif mapping.connector == "soap":
        from connector.crm.soap_validate import check_mapping_live
    else:
        from connector.crm.salesforce_describe import check_mapping_live

    try:
        return check_mapping_live(_load(config_path), mapping, path)
    except (ConfigError, ConnectorError) as exc:
        raise click.ClickException(f"{path}: live check failed: {exc}") from None


@mappings.command("preview")
@click.option(
    "--mapping", "mapping_file", required=True, type=click.Path(dir_okay=False), help="Mapping file."
)
@click.option("--payload", required=True, type=click.Path(exists=True, dir_okay=False), help="Sample JSON.")
def mappings_preview(mapping_file: str, payload: str) -> None:
    """Print the fields a mapping would write for a sample interaction."""
    from mappings import MappingError, RenderError, preview, resolve_mapping_path

    try:
        fields = preview(resolve_mapping_path(mapping_file, Path.cwd()), Path(payload))
    except MappingError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    except RenderError as exc:
        raise click.ClickException(str(exc)) from None
    _echo_json(fields)


# --- database schema ---------------------------------------------------------------------


@main.group()
def db() -> None:
    """Schema migrations of the store (Alembic)."""


def _migration_failure(action: str, exc: Exception) -> click.ClickException:
    return click.ClickException(f"{action} failed: {exc}")


@db.command("upgrade")
@config_option
def db_upgrade(config_path: str | None) -> None:
    """Bring the database to the newest schema; databases from earlier releases are recognised."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from connector import db_migrate

    url = _load(config_path).database_url
    try:
        result = db_migrate.upgrade(url)
    except (db_migrate.MigrationError, CommandError, SQLAlchemyError) as exc:
        raise _migration_failure("db upgrade", exc) from None
    if result.adopted is not None:
        click.echo(f"no migration history: the tables match {result.adopted}, stamped there")
    if result.changed:
        click.echo(f"upgraded {db_migrate.redact(url)}: {result.before or 'empty'} -> {result.after}")
    else:
        click.echo(f"{db_migrate.redact(url)} is already at {result.after} (head)")


@db.command("current")
@config_option
def db_current(config_path: str | None) -> None:
    """Print the database's schema revision and whether it is the newest."""
    from sqlalchemy.exc import SQLAlchemyError

    from connector import db_migrate

    url = _load(config_path).database_url
    try:
        found = db_migrate.status(url)
    except (db_migrate.MigrationError, SQLAlchemyError) as exc:
        raise _migration_failure("db current", exc) from None
    notes = {
        "current": "(head)",
        "behind": f"(behind head {found.head}: run `ventanilla db upgrade`)",
        "fresh": f"(empty database: created at {found.head} on first use)",
        "unversioned": "(created by an earlier release: run `ventanilla db upgrade`)",
        "unknown": f"(unknown to this release, whose head is {found.head})",
    }
    click.echo(f"{found.current or 'none'} {notes[found.state]}")


def _require_current_schema(config_path: str | None) -> None:
    """Stop ``serve`` on a database behind the migrations, before anything touches it."""
    from sqlalchemy.exc import SQLAlchemyError

    from connector import db_migrate

    try:
        db_migrate.ensure_current(_load(config_path).database_url)
    except db_migrate.MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the database schema: {exc}") from None
