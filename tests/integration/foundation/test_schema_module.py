"""`etl.schema` says what the migrations create: every table's columns, their types and its key."""

from __future__ import annotations

import psycopg
import pytest

from etl.schema import ANALYTICS_TABLES, CORE_TABLES, TABLES, TableSpec

# char(n) columns (the USPS state code) travel as text in COPY, which is how the spec types them.
_COLUMNS = """
SELECT column_name, CASE udt_name WHEN 'bpchar' THEN 'text' ELSE udt_name END FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position
"""
_KEY = """
SELECT a.attname FROM pg_index AS i
JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = %s::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


def test_every_named_table_has_a_spec() -> None:
    assert set(TABLES) == {*CORE_TABLES, *ANALYTICS_TABLES}


@pytest.mark.parametrize("spec", list(TABLES.values()), ids=list(TABLES))
def test_the_spec_matches_the_migrated_table(migrated_database_url: str, spec: TableSpec) -> None:
    with psycopg.connect(migrated_database_url) as conn:
        columns = tuple(tuple(row) for row in conn.execute(_COLUMNS, (spec.name,)).fetchall())
        key = tuple(row[0] for row in conn.execute(_KEY, (spec.name,)).fetchall())
    assert columns == spec.columns
    assert key == spec.key


def test_the_upsert_clause_skips_unchanged_rows_and_stamps_changed_ones() -> None:
    clause = TABLES["raw_objects"].on_conflict_update(["status"], stamp="loaded_at").as_string(None)
    assert clause == (
        'ON CONFLICT ("key") DO UPDATE SET ("status", "loaded_at") = ROW(EXCLUDED."status", now()) '
        'WHERE ("raw_objects"."status") IS DISTINCT FROM (EXCLUDED."status")'
    )
    assert TABLES["dim_date"].on_conflict_update([]).as_string(None) == 'ON CONFLICT ("date_id") DO NOTHING'
