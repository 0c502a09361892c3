"""`run_ingest`: plan every source's requests into shards, fetch them, write the raw objects, then the
manifest. `dispatch_run` and `run_shard` are the two halves the Lambda runs apart (dispatcher, worker).

One failing symbol, topic, series or whole source never stops the others: each failure is kept with
its reason, the rest is written, and the manifest (written last) says what failed.

Sources run shortest first (requests times pacing), so a run that reaches its deadline (a Lambda's
remaining time) leaves only the tail of the long Yahoo list undone: those requests are recorded as
failed without being sent, the manifest is still written, and a retry of the run fetches just them
(complete windows already in the raw zone are skipped).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lambda_src.ingestion import constituents, fred, gdelt, open_meteo, yahoo, yahoo_intraday
from lambda_src.ingestion.httpclient import (
    BROWSER_USER_AGENT,
    PROJECT_USER_AGENT,
    Clock,
    FetchFailed,
    HttpClient,
    Pacer,
    RequestsTransport,
    RetryPolicy,
    SystemClock,
    Transport,
    UnreachableHosts,
    browser_transport,
)
from lambda_src.ingestion.manifest import Failure, SkippedObject, WrittenObject, failure_lines, run_status
from lambda_src.ingestion.metrics import publish_shard
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window
from lambda_src.ingestion.shards import (
    Shard,
    ShardPlan,
    ShardReport,
    plan_shards,
    select_requests,
    write_run_manifest,
)
from pipeline import catalog
from pipeline.market_time import market_today
from pipeline.outcomes import EXIT_FAILED, EXIT_OK, new_run_id
from pipeline.progress import Progress
from pipeline.rawzone import RawStore, keep_fetch, make_metadata
from pipeline.reference import refreshed_universe_path, save_universe
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

Planner = Callable[[Settings, Window, dt.date], SourcePlan]

PLANNERS: dict[str, Planner] = {
    catalog.YAHOO: yahoo.plan,
    catalog.YAHOO_INTRADAY: yahoo_intraday.plan,
    catalog.OPEN_METEO: open_meteo.plan,
    catalog.GDELT: gdelt.plan,
    catalog.FRED: fred.plan,
    catalog.CONSTITUENTS: constituents.plan,
}
PACING_SECONDS: dict[str, float] = {
    catalog.YAHOO: yahoo.PACING_SECONDS,
    catalog.YAHOO_INTRADAY: yahoo_intraday.PACING_SECONDS,
    catalog.OPEN_METEO: open_meteo.SECONDS_PER_CALL,
    catalog.GDELT: gdelt.PACING_SECONDS,
    catalog.FRED: fred.PACING_SECONDS,
    catalog.CONSTITUENTS: constituents.PACING_SECONDS,
}


NOT_ATTEMPTED = "not attempted: the run reached its time limit (a retry of the run fetches it)"


class IngestWindowError(ValueError):
    """The requested window cannot be ingested (reversed, or in the future); one line."""


def default_transport(source: str) -> Transport:
    """Yahoo gets the browser-impersonating transport when available; every other API plain requests."""
    return browser_transport() if source in catalog.YAHOO_SOURCES else RequestsTransport()


@dataclass
class IngestResult:
    """The outcome of one run; `exit_code` is 0 when nothing failed, else 1 (as `pipeline ingest`)."""

    run_id: str
    window: Window
    sources: tuple[str, ...]
    written: list[WrittenObject] = field(default_factory=list)
    skipped: list[SkippedObject] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    manifest_key: str = ""
    #: Lines for the user besides the counts (e.g. where a refreshed universe was written).
    notes: list[str] = field(default_factory=list)
    #: How many shards the run was cut into.
    shards: int = 0

    @property
    def status(self) -> str:
        return run_status(self.written, self.skipped, self.failed)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed else EXIT_OK

    def summary(self) -> str:
        """A few lines for the terminal: counts, each failure with its reason, the manifest's key."""
        lines = [
            f"ingest {self.window} [{', '.join(self.sources)}]: {self.status}: {len(self.written)} written, "
            f"{len(self.skipped)} skipped (already there), {len(self.failed)} failed, in {self.shards} shard(s)",
        ]
        lines += failure_lines(self.failed)
        lines += [f"  {note}" for note in self.notes]
        lines.append(f"  manifest: {self.manifest_key}")
        return "\n".join(lines)


def ingest_window(start: dt.date, end: dt.date, today: dt.date) -> Window:
    """The inclusive window to ingest; raise `IngestWindowError` if it is reversed or ends after today."""
    if start > end:
        raise IngestWindowError(f"the window start {start} is after its end {end}")
    if end > today:
        raise IngestWindowError(f"the window ends {end}, after today ({today}, New York): no data exists yet")
    return Window(start, end)


def run_ingest(
    settings: Settings,
    store: RawStore,
    *,
    sources: Sequence[str],
    start: dt.date,
    end: dt.date,
    force: bool = False,
    progress: bool = False,
    today: dt.date | None = None,
    clock: Clock | None = None,
    transport_factory: Callable[[str], Transport] = default_transport,
    retry_policy: RetryPolicy | None = None,
    deadline: float | None = None,
) -> IngestResult:
    """Fetch `sources` for the inclusive window into `store`, shard by shard; see the module docstring.

    The run is planned into the same shards the Lambda dispatcher sends to SQS (`dispatch_run`), and
    each is run here in turn by `run_shard`, sharing one pacer per API. Past windows whose objects
    exist are skipped unless `force`. `deadline` is the clock's monotonic time by which every request
    must have ended (None: no limit). `today`, `clock`, `transport_factory` and `retry_policy` exist
    for tests (no real sleeping, a local server, a seeded jitter).
    """
    clock = clock or SystemClock()
    started_at = clock.now()
    plan = dispatch_run(
        settings, sources=sources, start=start, end=end, force=force, today=today, now=started_at
    )
    meter = Progress(plan.request_count, enabled=progress, label=f"ingest {plan.window}")
    pacers: dict[str, Pacer] = {}
    unreachable = UnreachableHosts()
    reports = [plan.dispatch_report(started_at)]
    try:
        for shard in plan.shards:
            reports.append(
                run_shard(
                    settings,
                    store,
                    shard,
                    plan.requests[shard.number],
                    clock=clock,
                    transport_factory=transport_factory,
                    retry_policy=retry_policy,
                    deadline=deadline,
                    pacers=pacers,
                    meter=meter,
                    unreachable=unreachable,
                )
            )
    finally:
        meter.close()
    result = IngestResult(plan.run_id, plan.window, plan.sources)
    for report in reports:
        result.written += report.written
        result.skipped += report.skipped
        result.failed += report.failed
        result.notes += report.notes
    result.shards = len(plan.shards)
    result.manifest_key = write_run_manifest(store, reports, plan.today)
    return result


def dispatch_run(
    settings: Settings,
    *,
    sources: Sequence[str],
    start: dt.date,
    end: dt.date,
    force: bool,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> ShardPlan:
    """Check the window and sources, plan every source and cut the plan into shards (pure: no I/O
    beyond reading the universe file). Sources run shortest first, as in a single run."""
    now = now or dt.datetime.now(dt.UTC)
    today = today or market_today(now)
    window = ingest_window(start, end, today)
    unknown = [source for source in sources if source not in catalog.INGEST_SOURCES]
    if unknown:
        raise IngestWindowError(
            f"unknown source(s): {', '.join(unknown)} (choose from {', '.join(catalog.INGEST_SOURCES)})"
        )
    failed: list[Failure] = []
    unique = tuple(dict.fromkeys(sources))
    plans = _plan_sources(settings, unique, window, today, failed)
    ordered = dict(sorted(plans.items(), key=lambda item: _expected_seconds(*item)))
    return plan_shards(
        run_id=new_run_id(now),
        sources=unique,
        window=window,
        today=today,
        force=force,
        plans=ordered,
        pacing_seconds={source: shard_pacing(settings, source) for source in ordered},
        failed=failed,
    )


def shard_pacing(settings: Settings, source: str) -> float:
    """One shard's spacing between requests to `source`: the API's pacing times the number of shards
    that may run at once, so that the API's rate holds across concurrent shards."""
    return PACING_SECONDS[source] * settings.ingest_concurrency


def run_shard(
    settings: Settings,
    store: RawStore,
    shard: Shard,
    requests: Sequence[PlannedRequest],
    *,
    clock: Clock | None = None,
    transport_factory: Callable[[str], Transport] = default_transport,
    retry_policy: RetryPolicy | None = None,
    deadline: float | None = None,
    pacers: dict[str, Pacer] | None = None,
    meter: Progress | None = None,
    failed: Sequence[Failure] = (),
    unreachable: UnreachableHosts | None = None,
) -> ShardReport:
    """Fetch one shard's requests into `store` and report what it wrote, skipped and failed.

    `pacers` (one per API) carry pacing over from the previous shard when shards run in one process, and
    `unreachable` the hosts found unreachable (whose remaining requests are then not sent).
    """
    clock = clock or SystemClock()
    pacers = {} if pacers is None else pacers
    source = shard.source
    report = ShardReport(
        shard.run_id, shard.number, shard.count, source, shard.window, clock.now(), clock.now(), (source,)
    )
    report.failed += failed
    pacer = pacers.setdefault(source, Pacer(shard_pacing(settings, source), clock))
    client = HttpClient(
        transport_factory(source),
        pacer,
        clock=clock,
        user_agent=BROWSER_USER_AGENT if source in catalog.YAHOO_SOURCES else PROJECT_USER_AGENT,
        policy=retry_policy,
        deadline=deadline,
        unreachable=unreachable,
    )
    for request in requests:
        try:
            _fetch_one(client, store, request, shard.force, report)
        except Exception as error:  # one request's surprise (a bug, a MemoryError) must not lose the manifest
            logger.exception("%s %s failed unexpectedly", source, request.entity)
            reason = f"unexpected error: {type(error).__name__}: {error}"
            report.failed.append(Failure(source, request.entity, request.full_url, reason))
        if meter is not None:
            meter.step(f"{source} {request.entity}")
    if source == catalog.CONSTITUENTS:
        _refresh_universe(settings, store, report)
    report.finished_at = clock.now()
    publish_shard(settings, shard, report, client.counts)
    return report


def shard_requests(settings: Settings, shard: Shard) -> tuple[list[PlannedRequest], list[Failure]]:
    """A shard's planned requests, re-planned from its source (the worker's side of `dispatch_run`)."""
    planner = PLANNERS[shard.source]
    try:
        source_plan = planner(settings, shard.window, shard.today)
    except (ValueError, OSError) as error:
        return [], [Failure(shard.source, "*", "", f"cannot plan requests: {error}")]
    return select_requests(shard, source_plan)


def _expected_seconds(source: str, plan: SourcePlan) -> float:
    """About how long a source's requests take at its pacing (Open-Meteo's scaled by their weight)."""
    return PACING_SECONDS[source] * sum(request.cost for request in plan.requests)


def _plan_sources(
    settings: Settings, sources: Sequence[str], window: Window, today: dt.date, failed: list[Failure]
) -> dict[str, SourcePlan]:
    plans: dict[str, SourcePlan] = {}
    for source in sources:
        planner = PLANNERS[source]
        try:
            plans[source] = planner(settings, window, today)
        except (ValueError, OSError) as error:
            failed.append(Failure(source, "*", "", f"cannot plan requests: {error}"))
    return plans


def _refresh_universe(settings: Settings, store: RawStore, result: ShardReport) -> None:
    """Rewrite the universe CSV from the constituents snapshot this run wrote, if it wrote one.

    The universe is derived from the stored snapshot, so the file always matches an object in the raw
    zone. With RAW_BUCKET set (the Lambda) only the snapshot is kept: there is no local file to update.
    """
    snapshot = next((item for item in result.written if item.source == catalog.CONSTITUENTS), None)
    if snapshot is None:
        return
    if settings.raw_bucket:
        result.notes.append(f"universe: not changed (RAW_BUCKET is set); the snapshot is {snapshot.key}")
        return
    path, configured = refreshed_universe_path(settings)
    try:
        page = store.get(snapshot.key)
        companies = constituents.parse_constituents(
            constituents.page_text(page.body, page.metadata.content_type)
        )
        save_universe(path, companies)
    except Exception as error:  # like a failed object write: recorded, and the manifest still written
        result.failed.append(
            Failure(catalog.CONSTITUENTS, "universe", str(path), f"universe not written: {error}")
        )
        return
    if configured:
        result.notes.append(f"universe: updated {path} ({len(companies)} companies)")
    else:
        result.notes.append(
            f"universe: wrote {len(companies)} companies to {path}; set PIPELINE_UNIVERSE={path} to use it"
        )


def _fetch_one(
    client: HttpClient, store: RawStore, request: PlannedRequest, force: bool, result: ShardReport
) -> None:
    if not force and not request.revisable and store.exists(request.key):
        result.skipped.append(
            SkippedObject(request.key, request.source, "window complete and already fetched")
        )
        return
    if client.out_of_time(client.pacer.pending_wait()):
        result.failed.append(Failure(request.source, request.entity, request.full_url, NOT_ATTEMPTED))
        return
    try:
        response = client.fetch(request.url, dict(request.params), request.check, cost=request.cost)
    except FetchFailed as failure:
        # Told once, in the run's summary (and the manifest); the log keeps it for the Lambda's record.
        logger.info("%s %s failed: %s", request.source, request.entity, failure)
        result.failed.append(Failure(request.source, request.entity, request.full_url, str(failure)))
        return
    metadata = make_metadata(
        response.body,
        source_url=request.full_url,
        http_status=response.status,
        content_type=response.content_type,
        fetched_at=client.clock.now(),
        extra=request.extras,
    )
    try:
        # A re-fetch with other bytes is kept beside the earlier one, never over it.
        key = keep_fetch(store, request.key, response.body, metadata)
    except Exception as error:  # a storage failure of one object must not lose the others
        result.failed.append(
            Failure(request.source, request.entity, request.full_url, f"raw zone write failed: {error}")
        )
        return
    result.written.append(WrittenObject(key, request.source, metadata.sha256))
