-- The S3 ETag each raw object was listed with when the ledger recorded it (null for the local folder,
-- which has no such token, and for rows written before this migration). A listing returns the ETag of
-- every object, so the ETL looks up an object's metadata (one HEAD request on S3) only when its ETag
-- is new or changed, instead of once per object on every run.
ALTER TABLE raw_objects ADD COLUMN etag text;
