"""The shard plan of an ingest run: its requests cut into pieces that each fit well inside one Lambda.

A run (a day, or a backfill's range) is planned once, by `plan_shards`: every source's requests, in
order, are cut into shards whose paced time stays under `SHARD_BUDGET_SECONDS`. In AWS the dispatcher
sends one SQS message per shard (`Shard.to_message`) and the ingestion function runs each on its own,
so a throttled or failing shard is retried alone; `pipeline ingest` runs the same shards one after the
other. A shard names its requests by raw-zone key, so the worker that re-plans the source fetches
exactly what the dispatcher planned, whatever changed in between.

Each shard's outcome is a `ShardReport`. Locally the reports stay in memory; in AWS every shard
invocation stores its report under ``raw/ingest_shards/<day>/<run id>.<number>.json`` (number 0 is
the dispatch: planning failures and uncovered days), and the invocation that finds every report of
its run present writes the run's manifest from them (`complete_run`), again after each retry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, TypeAdapter, ValidationError

from lambda_src.ingestion.manifest import (
    Failure,
    SkippedObject,
    WrittenObject,
    run_status,
    write_manifest,
)
from lambda_src.ingestion.plan import PlannedRequest, SourcePlan, Window
from pipeline import catalog
from pipeline.rawzone import RawObjectNotFound, RawStore, make_metadata, raw_key, source_prefix

#: Paced seconds of requests in one shard: a few minutes, so retries and backoff of a throttled
#: stretch still end far inside the function's timeout.
SHARD_BUDGET_SECONDS = 180.0
#: SQS takes at most ten messages per SendMessageBatch call.
SQS_BATCH = 10
DISPATCH_NUMBER = 0


class InvalidShard(ValueError):
    """A shard message cannot be understood; one line naming what is wrong."""


@dataclass(frozen=True)
class Shard:
    """One piece of a run: some of one source's planned requests, named by their raw-zone keys."""

    run_id: str
    number: int
    count: int
    source: str
    window: Window
    today: dt.date
    keys: tuple[str, ...]
    force: bool = False

    @property
    def label(self) -> str:
        return f"{self.source} shard {self.number}/{self.count}"

    def to_message(self) -> str:
        """The SQS message body."""
        return json.dumps(
            {
                "run_id": self.run_id,
                "number": self.number,
                "count": self.count,
                "source": self.source,
                "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(),
                "today": self.today.isoformat(),
                "keys": list(self.keys),
                "force": self.force,
            }
        )

    @classmethod
    def from_message(cls, body: str) -> Shard:
        """Parse a message body; raise `InvalidShard` for anything but a shard `to_message` wrote."""
        try:
            message = ShardMessage.model_validate_json(body)
        except ValidationError as error:
            raise InvalidShard(f"not a shard message ({_first_error(error)}): {body[:120]!r}") from None
        shard = cls(
            message.run_id,
            message.number,
            message.count,
            message.source,
            Window(message.start, message.end),
            message.today,
            message.keys,
            message.force,
        )
        if shard.source not in catalog.INGEST_SOURCES or not 1 <= shard.number <= shard.count:
            raise InvalidShard(f"not a valid shard: {shard.label} with {len(shard.keys)} key(s)")
        return shard


NonEmptyText = Annotated[str, StringConstraints(min_length=1)]


class ShardMessage(BaseModel):
    """A shard's SQS message as `Shard.to_message` writes it (every field required but `force`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: NonEmptyText
    number: int
    count: int
    source: NonEmptyText
    start: dt.date
    end: dt.date
    today: dt.date
    keys: Annotated[tuple[NonEmptyText, ...], Field(min_length=1)]
    force: StrictBool = False


def _first_error(error: ValidationError) -> str:
    """The first of pydantic's errors on one line, naming the field."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "message"
    return " ".join(f"{where}: {first['msg']}".split())


@dataclass
class ShardPlan:
    """The shards of a run, with each shard's planned requests and what planning could not do."""

    run_id: str
    window: Window
    today: dt.date
    sources: tuple[str, ...]
    shards: list[Shard] = field(default_factory=list)
    requests: dict[int, list[PlannedRequest]] = field(default_factory=dict)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[SkippedObject] = field(default_factory=list)

    @property
    def request_count(self) -> int:
        return sum(len(requests) for requests in self.requests.values())

    def dispatch_report(self, at: dt.datetime) -> ShardReport:
        """Report number 0: what the planning itself failed or left out, and the shards it made."""
        return ShardReport(
            run_id=self.run_id,
            number=DISPATCH_NUMBER,
            count=len(self.shards),
            source="*",
            window=self.window,
            started_at=at,
            finished_at=at,
            sources=self.sources,
            skipped=list(self.skipped),
            failed=list(self.failed),
            planned={shard.number: (shard.source, len(shard.keys)) for shard in self.shards},
        )


def cut_into_shards(
    requests: Sequence[PlannedRequest], pacing_seconds: float, budget_seconds: float | None = None
) -> list[list[PlannedRequest]]:
    """Consecutive runs of `requests` whose paced time (pacing times cost) stays within the budget
    (`SHARD_BUDGET_SECONDS` by default); a request that alone exceeds it is a shard of its own."""
    budget_seconds = SHARD_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    pieces: list[list[PlannedRequest]] = []
    spent = 0.0
    for request in requests:
        seconds = pacing_seconds * request.cost
        if not pieces or (pieces[-1] and spent + seconds > budget_seconds):
            pieces.append([])
            spent = 0.0
        pieces[-1].append(request)
        spent += seconds
    return pieces


def plan_shards(
    *,
    run_id: str,
    sources: Sequence[str],
    window: Window,
    today: dt.date,
    force: bool,
    plans: Mapping[str, SourcePlan],
    pacing_seconds: Mapping[str, float],
    failed: Iterable[Failure] = (),
) -> ShardPlan:
    """Cut each source's planned requests (sources in the order given) into shards, numbered from 1."""
    plan = ShardPlan(run_id, window, today, tuple(sources), failed=list(failed))
    pieces: list[tuple[str, list[PlannedRequest]]] = []
    for source, source_plan in plans.items():
        plan.skipped += [SkippedObject("", source, note) for note in source_plan.uncovered]
        pieces += [(source, piece) for piece in cut_into_shards(source_plan.requests, pacing_seconds[source])]
    for number, (source, requests) in enumerate(pieces, start=1):
        keys = tuple(request.key for request in requests)
        plan.shards.append(Shard(run_id, number, len(pieces), source, window, today, keys, force))
        plan.requests[number] = requests
    return plan


def select_requests(shard: Shard, source_plan: SourcePlan) -> tuple[list[PlannedRequest], list[Failure]]:
    """The shard's requests out of its source's plan, in the shard's order; keys the plan no longer
    has (the universe changed since dispatch) are failures, never silently dropped."""
    by_key = {request.key: request for request in source_plan.requests}
    found = [by_key[key] for key in shard.keys if key in by_key]
    missing = [
        Failure(shard.source, key, "", "planned by the dispatcher but no longer in the plan")
        for key in shard.keys
        if key not in by_key
    ]
    return found, missing


@dataclass
class ShardReport:
    """What one shard wrote, skipped and failed (or, for number 0, what planning failed)."""

    run_id: str
    number: int
    count: int
    source: str
    window: Window
    started_at: dt.datetime
    finished_at: dt.datetime
    #: The run's sources (dispatch report) or the shard's one source.
    sources: tuple[str, ...] = ()
    written: list[WrittenObject] = field(default_factory=list)
    skipped: list[SkippedObject] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    #: Dispatch report only: shard number -> (source, number of requests).
    planned: dict[int, tuple[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return run_status(self.written, self.skipped, self.failed)

    def summary_entry(self) -> dict[str, Any]:
        """This shard's line in the run manifest."""
        return {
            "number": self.number,
            "source": self.source,
            "status": self.status,
            "written": len(self.written),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "started_at": self.started_at.astimezone(dt.UTC).isoformat(),
            "finished_at": self.finished_at.astimezone(dt.UTC).isoformat(),
        }

    def to_json(self) -> bytes:
        document = asdict(self)
        document["window"] = {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()}
        document["started_at"] = self.started_at.astimezone(dt.UTC).isoformat()
        document["finished_at"] = self.finished_at.astimezone(dt.UTC).isoformat()
        document["planned"] = {str(number): list(entry) for number, entry in self.planned.items()}
        return json.dumps(document, indent=1).encode()

    @classmethod
    def from_json(cls, body: bytes) -> ShardReport:
        """A report `to_json` wrote; `InvalidShard` naming the field for anything else."""
        try:
            return _REPORT.validate_json(body)
        except ValidationError as error:
            raise InvalidShard(f"not a shard report ({_first_error(error)})") from None


# Validates a stored report into the dataclasses it was made of (dates, windows, the written,
# skipped and failed objects, the planned shards' numbers).
_REPORT = TypeAdapter(ShardReport)


def report_key(run_id: str, day: dt.date, number: int) -> str:
    return raw_key(catalog.INGEST_SHARDS, day, f"{run_id}.{number:04d}.json")


def store_report(store: RawStore, report: ShardReport, day: dt.date) -> str:
    """Keep a shard's report in the raw zone (AWS: the shards of a run end in separate invocations)."""
    body = report.to_json()
    key = report_key(report.run_id, day, report.number)
    store.put(
        key,
        body,
        make_metadata(
            body,
            source_url=f"pipeline:ingest/{report.run_id}/{report.number}",
            http_status=0,
            content_type="application/json",
            fetched_at=report.finished_at,
            extra={"run_id": report.run_id},
        ),
    )
    return key


def stored_reports(store: RawStore, run_id: str, day: dt.date) -> list[ShardReport]:
    """Every report of a run stored so far (one listing of the run's day)."""
    reports = []
    for key in store.list(source_prefix(catalog.INGEST_SHARDS, day)):
        if key.rsplit("/", 1)[-1].startswith(f"{run_id}."):
            try:
                reports.append(ShardReport.from_json(store.get(key).body))
            except RawObjectNotFound:
                continue
    return reports


def complete_run(store: RawStore, run_id: str, day: dt.date, count: int) -> str | None:
    """Write the run's manifest once all `count` shards and the dispatch have reported; its key, or
    None while some shard has not. With S3's read-after-write consistency the last shard to store its
    report always sees all of them; two that finish together both write the same manifest."""
    reports = stored_reports(store, run_id, day)
    numbers = {report.number for report in reports}
    if not set(range(count + 1)) <= numbers:
        return None
    return write_run_manifest(store, sorted(reports, key=lambda report: report.number), day)


def write_run_manifest(store: RawStore, reports: Sequence[ShardReport], day: dt.date) -> str:
    """The run manifest from the dispatch report (number 0) and every shard's report, in order."""
    dispatch, shards = reports[0], reports[1:]
    every = list(reports)
    return write_manifest(
        store,
        run_id=dispatch.run_id,
        day=day,
        started_at=min(report.started_at for report in every),
        finished_at=max(report.finished_at for report in every),
        window=dispatch.window,
        sources=dispatch.sources,
        written=[item for report in every for item in report.written],
        skipped=[item for report in every for item in report.skipped],
        failed=[item for report in every for item in report.failed],
        synthetic=False,
        shards=[report.summary_entry() for report in shards],
    )


def send_shards(client: Any, queue_url: str, shards: Sequence[Shard]) -> int:
    """Send one SQS message per shard, ten per call; raise if SQS refuses any (none is lost silently)."""
    sent = 0
    for batch in _batched(shards, SQS_BATCH):
        response = client.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(shard.number), "MessageBody": shard.to_message()} for shard in batch],
        )
        refused = response.get("Failed") or []
        if refused:
            reasons = "; ".join(
                f"shard {item['Id']}: {item.get('Message', item.get('Code'))}" for item in refused
            )
            raise RuntimeError(f"SQS refused {len(refused)} shard message(s): {reasons}")
        sent += len(batch)
    return sent


def _batched(items: Sequence[Shard], size: int) -> Iterator[Sequence[Shard]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
