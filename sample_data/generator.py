"""`pipeline sample`: deterministic synthetic API responses, in the real formats, into the raw zone.

The sample covers the last `days` NYSE trading days up to `end` and is written exactly as a real
backfill of those days run the next morning would write it: the same planners give the windows, keys,
URLs and metadata (plus ``synthetic=true``), and a manifest comes last.

Every value is a function of (seed, instrument, date) alone. Random draws come from a counter-based
hash of (seed, entity, stream, date), never from a sequential generator, and the path-dependent
series (prices, VIX, the 10-year yield) always run from the same epoch, so a sample ending at D+1
continues one ending at D with no jump.

Shapes follow the APIs' real responses (docs/ingestion.md): Yahoo's float32-looking prices, a null bar now and then,
no bars on holidays, the empty-window shape before a listing, and the live extra bar after the last
window; Open-Meteo's array in request order with ``location_id`` from the second element and null
days; GDELT's daily (or, for short windows, hourly) buckets, volume and tone alike; FRED's empty holiday values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lambda_src.ingestion import fred, gdelt, open_meteo, yahoo
from lambda_src.ingestion.manifest import WrittenObject, write_manifest
from lambda_src.ingestion.plan import PlannedRequest, Window
from pipeline import catalog
from pipeline.market_time import market_today
from pipeline.progress import Progress
from pipeline.rawzone import RawStore, make_metadata
from pipeline.reference import (
    Company,
    load_states,
    load_universe,
    refreshed_universe_path,
    save_universe,
)
from pipeline.settings import Settings
from pipeline.trading_calendar import is_trading_day, trading_days
from sample_data.bodies import (
    EPOCH,
    Instrument,
    PriceModel,
    fred_body,
    macro_path,
    weather_body,
    yahoo_body,
)
from sample_data.news import gdelt_body, gdelt_tone_body

#: The most tickers a sample holds (beyond the universe, synthetic ones).
MAX_TICKERS = 10_000


@dataclass(frozen=True)
class SampleResult:
    """What `write_sample` wrote: the window, the tickers, the object count and the manifest key."""

    window: Window
    tickers: tuple[str, ...]
    objects: int
    manifest_key: str
    #: Where the universe with the synthetic tickers went (None when the universe was big enough), and
    #: whether PIPELINE_UNIVERSE already points there.
    universe: Path | None = None
    universe_in_use: bool = True

    def summary(self) -> str:
        lines = [
            f"sample {self.window}: {len(self.tickers)} tickers, {self.objects} synthetic objects written; "
            f"manifest: {self.manifest_key}"
        ]
        if self.universe is not None:
            lines.append(f"  universe with synthetic tickers written to {self.universe}")
            if not self.universe_in_use:
                lines.append(f"  set PIPELINE_UNIVERSE={self.universe} so that the ETL loads their companies")
        return "\n".join(lines)


# --- selection and windows ----------------------------------------------------------------------


def select_companies(companies: Sequence[Company], count: int) -> list[Company]:
    """`count` companies taken round-robin across sectors in universe order (a sector mix for small N)."""
    by_sector: dict[str, list[Company]] = {}
    for company in companies:
        by_sector.setdefault(company.sector, []).append(company)
    queues = list(by_sector.values())
    chosen: list[Company] = []
    depth = 0
    while len(chosen) < count:
        chosen += [queue[depth] for queue in queues if depth < len(queue)][: count - len(chosen)]
        depth += 1
    return chosen


def synthetic_companies(companies: Sequence[Company], count: int) -> list[Company]:
    """`companies` followed by synthetic ones up to `count` in all: tickers ``SYN0001``, ..., each in a
    sector (and an industry of it) of the universe, taken in turn, so that every sector grows alike."""
    if count <= len(companies):
        return list(companies)
    by_sector: dict[str, list[Company]] = {}
    for company in companies:
        by_sector.setdefault(company.sector, []).append(company)
    sectors = list(by_sector.items())
    taken = {company.ticker for company in companies}
    extended = list(companies)
    number = 0
    while len(extended) < count:
        number += 1
        ticker = f"SYN{number:04d}"
        if ticker in taken:
            continue
        sector, members = sectors[number % len(sectors)]
        industry = members[(number // len(sectors)) % len(members)].industry
        extended.append(Company(ticker, f"Synthetic Company {number:04d}", sector, industry))
    return extended


def sample_window(days: int, end: dt.date) -> tuple[Window, list[dt.date]]:
    """The calendar window from the `days`-th last trading day up to `end`, and every session since EPOCH."""
    sessions = trading_days(EPOCH, end)
    if len(sessions) < days:
        raise ValueError(f"--days {days} reaches before {EPOCH}, the first day the sample can generate")
    return Window(sessions[-days], end), sessions


def next_session(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while not is_trading_day(day):
        day += dt.timedelta(days=1)
    return day


# --- writing ------------------------------------------------------------------------------------

_CONTENT_TYPES = {
    catalog.YAHOO: "application/json;charset=utf-8",
    catalog.OPEN_METEO: "application/json; charset=utf-8",
    catalog.GDELT: "application/json; charset=utf-8",
    catalog.FRED: "text/csv",
}


def _put(store: RawStore, request: PlannedRequest, body: bytes, fetched_at: dt.datetime) -> WrittenObject:
    metadata = make_metadata(
        body,
        source_url=request.full_url,
        http_status=200,
        content_type=_CONTENT_TYPES[request.source],
        fetched_at=fetched_at,
        extra={**request.extras, "synthetic": "true"},
    )
    store.put(request.key, body, metadata)
    return WrittenObject(request.key, request.source, metadata.sha256)


def write_sample(
    settings: Settings, store: RawStore, *, tickers: int, days: int, seed: int, end: dt.date, progress: bool
) -> SampleResult:
    """Write a synthetic backfill of the last `days` trading days up to `end` (see the module docstring).

    More `tickers` than the universe holds adds synthetic companies (`synthetic_companies`), saved
    with the real ones as a universe file (PIPELINE_UNIVERSE itself when it is not the shipped file,
    else ``$PIPELINE_HOME/universe.csv``) for the ETL. Raises `ValueError` with one line when
    `tickers` or `days` is out of range.
    """
    if not 1 <= tickers <= MAX_TICKERS:
        raise ValueError(f"--tickers {tickers} is out of range: 1 to {MAX_TICKERS}")
    universe = load_universe(settings.pipeline_universe)
    companies = synthetic_companies(universe, tickers)
    universe_file, universe_in_use = None, True
    if len(companies) > len(universe):
        universe_file, universe_in_use = refreshed_universe_path(settings)
        save_universe(universe_file, companies)
    if days < 1:
        raise ValueError(f"--days {days} must be at least 1")
    if end > market_today():
        # The ETL refuses data beyond its source's horizon: a sample of days to come would load nothing.
        raise ValueError(
            f"--end {end} is after today ({market_today()}, New York): no data exists for it yet"
        )
    window, sessions = sample_window(days, end)
    today = end + dt.timedelta(days=1)
    live_session = next_session(end)
    chosen = select_companies(companies, tickers)
    instruments = [Instrument(c.ticker, c.name, c.sector, False) for c in chosen]
    instruments += [Instrument(symbol, symbol, "index", True) for symbol in settings.pipeline_indexes]
    fetched_at = dt.datetime.combine(today, dt.time(11, 0), dt.UTC)
    model = PriceModel(seed, instruments, [*sessions, live_session])
    states = load_states()
    weather = [
        open_meteo.plan_window(settings, states, endpoint, part)
        for endpoint, part in open_meteo.split_endpoints(window, today)
    ]
    news = gdelt.plan(settings, window, today).requests
    macro = fred.plan(settings, window, today).requests
    meter = Progress(
        len(instruments) + len(weather) + len(news) + len(macro),
        enabled=progress,
        label="sample",
        unit="objects",
    )
    written: list[WrittenObject] = []
    try:
        for column, instrument in enumerate(instruments):
            request = yahoo.plan_symbol(settings, instrument.symbol, window, today)
            written.append(
                _put(store, request, yahoo_body(model, column, instrument, window, live_session), fetched_at)
            )
            meter.step(instrument.symbol)
        for request in weather:
            written.append(_put(store, request, weather_body(seed, states, request.window), fetched_at))
            meter.step(request.entity)
        for request in news:
            make_body = gdelt_tone_body if request.extras["mode"] == gdelt.TONE_MODE else gdelt_body
            body = make_body(seed, request.extras["topic"], request.window)
            written.append(_put(store, request, body, fetched_at))
            meter.step(request.entity)
        for request in macro:
            path = macro_path(seed, request.entity, sessions, model.market[: len(sessions)])
            written.append(
                _put(store, request, fred_body(request.entity, request.window, sessions, path), fetched_at)
            )
            meter.step(request.entity)
    finally:
        meter.close()
    run_id = f"sample-{end:%Y%m%d}-seed{seed}-tickers{tickers}-days{days}"
    manifest_key = write_manifest(
        store,
        run_id=run_id,
        day=today,
        started_at=fetched_at,
        finished_at=fetched_at,
        window=window,
        sources=catalog.DATA_SOURCES,
        written=written,
        skipped=[],
        failed=[],
        synthetic=True,
    )
    return SampleResult(
        window, tuple(c.ticker for c in chosen), len(written), manifest_key, universe_file, universe_in_use
    )
