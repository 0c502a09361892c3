"""The shard plan: cut by paced time, every request in exactly one shard, messages that round-trip."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_src.ingestion import runner, shards
from lambda_src.ingestion.manifest import Failure, SkippedObject, WrittenObject
from lambda_src.ingestion.plan import SourcePlan, Window
from lambda_src.ingestion.shards import InvalidShard, Shard, ShardReport, cut_into_shards, select_requests
from pipeline import catalog
from pipeline.settings import load_settings

TODAY = dt.date(2024, 3, 29)
DAY = Window(dt.date(2024, 3, 28), dt.date(2024, 3, 28))


def test_a_day_of_the_sp500_fits_in_shards_well_inside_the_lambda_limit() -> None:
    # Given the shipped universe (about 500 tickers) and two shards at once, as deployed.
    settings = load_settings(ingest_concurrency=2)
    plan = runner.dispatch_run(
        settings, sources=catalog.DATA_SOURCES, start=DAY.start, end=DAY.end, force=False, today=TODAY
    )
    yahoo = [shard for shard in plan.shards if shard.source == catalog.YAHOO]
    # Then each shard's paced time is at most the budget (3 minutes of a 15-minute function) ...
    for shard in plan.shards:
        paced = runner.shard_pacing(settings, shard.source) * sum(r.cost for r in plan.requests[shard.number])
        assert paced <= shards.SHARD_BUDGET_SECONDS
    # ... Yahoo is paced at 2 s per request in each shard, so two shards at once keep 1 request/s ...
    assert runner.shard_pacing(settings, catalog.YAHOO) == 2.0
    assert len(yahoo) == 6 and max(len(shard.keys) for shard in yahoo) == 90
    # ... and every planned request is in exactly one shard, numbered 1..n in order.
    keys = [key for shard in plan.shards for key in shard.keys]
    assert len(keys) == len(set(keys)) == plan.request_count
    assert [shard.number for shard in plan.shards] == list(range(1, len(plan.shards) + 1))
    assert {shard.count for shard in plan.shards} == {len(plan.shards)}
    # Shortest sources first, as a single run orders them.
    assert plan.shards[-1].source == catalog.YAHOO and plan.shards[0].source != catalog.YAHOO


def test_a_request_longer_than_the_budget_is_a_shard_of_its_own() -> None:
    settings = load_settings()
    requests = runner.PLANNERS[catalog.YAHOO](settings, DAY, TODAY).requests[:5]
    pieces = cut_into_shards(requests, pacing_seconds=1.0, budget_seconds=0.5)
    assert [len(piece) for piece in pieces] == [1, 1, 1, 1, 1]
    assert [len(piece) for piece in cut_into_shards(requests, 1.0, 2.0)] == [2, 2, 1]
    assert cut_into_shards([], 1.0) == []


def test_a_shard_message_round_trips_and_a_bad_one_is_one_clear_error() -> None:
    shard = Shard(
        "run-1", 2, 3, catalog.YAHOO, DAY, TODAY, ("raw/yahoo/2024-03-28/AAPL_2024-03-28.json",), True
    )
    assert Shard.from_message(shard.to_message()) == shard
    with pytest.raises(InvalidShard, match="not a shard message"):
        Shard.from_message('{"run_id": "run-1"}')
    with pytest.raises(InvalidShard, match="not a shard message"):
        Shard.from_message("not json")
    bad_number = shard.to_message().replace('"number": 2', '"number": 4')
    with pytest.raises(InvalidShard, match="not a valid shard: yahoo shard 4/3"):
        Shard.from_message(bad_number)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("today", "2024-13-01", "today: "),
        ("keys", [], "keys: "),
        ("keys", ["raw/a", ""], "keys.1: "),
        ("force", "yes", "force: "),
        ("number", "two", "number: "),
        ("shard", 1, "shard: "),
    ],
)
def test_a_bad_shard_field_is_one_line_naming_it(field: str, value: object, named: str) -> None:
    document = json.loads(Shard("run-1", 1, 1, catalog.FRED, DAY, TODAY, ("raw/fred/x",)).to_message())
    document[field] = value
    with pytest.raises(InvalidShard) as raised:
        Shard.from_message(json.dumps(document))
    assert f"not a shard message ({named}" in str(raised.value) and "\n" not in str(raised.value)


@given(
    number=st.integers(1, 50),
    extra=st.integers(0, 50),
    source=st.sampled_from(catalog.INGEST_SOURCES),
    days=st.integers(0, 400),
    keys=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5),
    force=st.booleans(),
)
def test_every_shard_round_trips_through_its_message(number, extra, source, days, keys, force) -> None:
    window = Window(DAY.start - dt.timedelta(days=days), DAY.end)
    shard = Shard("run-1", number, number + extra, source, window, TODAY, tuple(keys), force)
    assert Shard.from_message(shard.to_message()) == shard


def test_a_shard_report_round_trips_and_a_bad_one_is_one_clear_error() -> None:
    at = dt.datetime(2024, 3, 29, 7, 30, tzinfo=dt.UTC)
    report = ShardReport(
        "run-1", 0, 2, "*", DAY, at, at, (catalog.FRED,),
        written=[WrittenObject("raw/fred/a", catalog.FRED, "ab" * 32)],
        skipped=[SkippedObject("", catalog.FRED, "already there")],
        failed=[Failure(catalog.FRED, "VIXCLS", "https://example.test", "HTTP 500")],
        planned={1: (catalog.FRED, 3), 2: (catalog.YAHOO, 90)},
    )  # fmt: skip
    assert ShardReport.from_json(report.to_json()) == report
    document = json.loads(report.to_json())
    document["window"]["start"] = "someday"
    with pytest.raises(InvalidShard, match=r"^not a shard report \(window.start: "):
        ShardReport.from_json(json.dumps(document).encode())


def test_keys_the_worker_no_longer_plans_are_failures_not_silently_dropped() -> None:
    settings = load_settings()
    source_plan = runner.PLANNERS[catalog.YAHOO](settings, DAY, TODAY)
    known = source_plan.requests[0].key
    gone = "raw/yahoo/2024-03-28/GONE_2024-03-28.json"
    shard = Shard("run-1", 1, 1, catalog.YAHOO, DAY, TODAY, (gone, known))
    found, missing = select_requests(shard, SourcePlan(source_plan.requests))
    assert [request.key for request in found] == [known]
    assert [(failure.entity, failure.reason) for failure in missing] == [
        (gone, "planned by the dispatcher but no longer in the plan")
    ]


class RefusingQueue:
    """An SQS client whose SendMessageBatch refuses the second entry of every call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def send_message_batch(self, **kwargs: object) -> dict[str, object]:
        entries = kwargs["Entries"]
        assert isinstance(entries, list)
        self.calls.append(len(entries))
        failed = (
            [{"Id": entries[1]["Id"], "Code": "Throttled", "Message": "try later"}]
            if len(entries) > 1
            else []
        )
        return {"Successful": [], "Failed": failed}


def test_a_refused_shard_message_fails_the_dispatch_instead_of_losing_the_shard() -> None:
    plan = runner.dispatch_run(
        load_settings(), sources=(catalog.YAHOO,), start=DAY.start, end=DAY.end, force=False, today=TODAY
    )
    queue = RefusingQueue()
    with pytest.raises(RuntimeError, match="SQS refused 1 shard message"):
        shards.send_shards(queue, "https://sqs.example/queue", plan.shards)
    assert queue.calls == [min(10, len(plan.shards))]


def test_a_summary_names_a_few_entities_per_reason_and_counts_the_rest() -> None:
    from lambda_src.ingestion.manifest import Failure, failure_lines

    failed = [Failure("yahoo", f"T{number}", "", "not attempted: no network") for number in range(6)]
    failed.insert(1, Failure("yahoo", "ZZZZ", "", "HTTP 404: delisted"))
    failed.append(Failure("fred", "VIXCLS", "", "not attempted: no network"))
    assert failure_lines(failed) == [
        "  failed yahoo T0, T1, T2 and 3 more: not attempted: no network",
        "  failed yahoo ZZZZ: HTTP 404: delisted",
        "  failed fred VIXCLS: not attempted: no network",
    ]
