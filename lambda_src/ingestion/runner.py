"""`run_ingest`: plan every source's requests, fetch them, write the raw objects, then the manifest.

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

from lambda_src.ingestion import constituents, fred, gdelt, open_meteo, yahoo
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
    browser_transport,
)
from lambda_src.ingestion.manifest import (
    Failure,
    SkippedObject,
    WrittenObject,
    run_status,
    write_manifest,
)
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window
from pipeline import catalog
from pipeline.market_time import market_today
from pipeline.outcomes import EXIT_FAILED, EXIT_OK, new_run_id
from pipeline.progress import Progress
from pipeline.rawzone import RawStore, make_metadata
from pipeline.reference import refreshed_universe_path, save_universe
from pipeline.settings import Settings

logger = logging.getLogger(__name__)

Planner = Callable[[Settings, Window, dt.date], SourcePlan]

PLANNERS: dict[str, Planner] = {
    catalog.YAHOO: yahoo.plan,
    catalog.OPEN_METEO: open_meteo.plan,
    catalog.GDELT: gdelt.plan,
    catalog.FRED: fred.plan,
    catalog.CONSTITUENTS: constituents.plan,
}
PACING_SECONDS: dict[str, float] = {
    catalog.YAHOO: yahoo.PACING_SECONDS,
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
    return browser_transport() if source == catalog.YAHOO else RequestsTransport()


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
            f"{len(self.skipped)} skipped (already there), {len(self.failed)} failed",
        ]
        lines += [f"  failed {item.source} {item.entity}: {item.reason}" for item in self.failed]
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
    """Fetch `sources` for the inclusive window into `store`; see the module docstring.

    Past windows whose objects exist are skipped unless `force`. `deadline` is the clock's monotonic
    time by which every request must have ended (None: no limit). `today`, `clock`, `transport_factory`
    and `retry_policy` exist for tests (no real sleeping, a local server, a seeded jitter).
    """
    clock = clock or SystemClock()
    started_at = clock.now()
    today = today or market_today(started_at)
    window = ingest_window(start, end, today)
    unknown = [source for source in sources if source not in catalog.INGEST_SOURCES]
    if unknown:
        raise IngestWindowError(
            f"unknown source(s): {', '.join(unknown)} (choose from {', '.join(catalog.INGEST_SOURCES)})"
        )
    result = IngestResult(new_run_id(started_at), window, tuple(dict.fromkeys(sources)))

    plans = _plan_sources(settings, result, window, today)
    total = sum(len(plan.requests) for plan in plans.values())
    meter = Progress(total, enabled=progress, label=f"ingest {window}")
    try:
        for source, plan in sorted(plans.items(), key=lambda item: _expected_seconds(*item)):
            client = HttpClient(
                transport_factory(source),
                Pacer(PACING_SECONDS[source], clock),
                clock=clock,
                user_agent=BROWSER_USER_AGENT if source == catalog.YAHOO else PROJECT_USER_AGENT,
                policy=retry_policy,
                deadline=deadline,
            )
            for request in plan.requests:
                _fetch_one(client, store, request, force, result)
                meter.step(f"{source} {request.entity}")
    finally:
        meter.close()
    if catalog.CONSTITUENTS in plans:
        _refresh_universe(settings, store, result)
    result.manifest_key = write_manifest(
        store,
        run_id=result.run_id,
        day=today,
        started_at=started_at,
        finished_at=clock.now(),
        window=window,
        sources=result.sources,
        written=result.written,
        skipped=result.skipped,
        failed=result.failed,
        synthetic=False,
    )
    return result


def _expected_seconds(source: str, plan: SourcePlan) -> float:
    """About how long a source's requests take at its pacing (Open-Meteo's scaled by their weight)."""
    return PACING_SECONDS[source] * sum(request.cost for request in plan.requests)


def _plan_sources(
    settings: Settings, result: IngestResult, window: Window, today: dt.date
) -> dict[str, SourcePlan]:
    plans: dict[str, SourcePlan] = {}
    for source in result.sources:
        planner = PLANNERS[source]
        try:
            plan = planner(settings, window, today)
        except (ValueError, OSError) as error:
            result.failed.append(Failure(source, "*", "", f"cannot plan requests: {error}"))
            continue
        result.skipped += [SkippedObject("", source, note) for note in plan.uncovered]
        plans[source] = plan
    return plans


def _refresh_universe(settings: Settings, store: RawStore, result: IngestResult) -> None:
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
    client: HttpClient, store: RawStore, request: PlannedRequest, force: bool, result: IngestResult
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
        logger.warning("%s %s failed: %s", request.source, request.entity, failure)
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
        store.put(request.key, response.body, metadata)
    except Exception as error:  # a storage failure of one object must not lose the others
        result.failed.append(
            Failure(request.source, request.entity, request.full_url, f"raw zone write failed: {error}")
        )
        return
    result.written.append(WrittenObject(request.key, request.source, metadata.sha256))
