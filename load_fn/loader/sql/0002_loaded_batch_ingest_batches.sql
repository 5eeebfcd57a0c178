-- Each loaded batch records the ingest batches its processed manifest covered
-- (`ingest_batches`, in order), so a warehouse row can be traced to its source window:
-- the row's batch -> these ingest batches -> their manifests' [lo, hi) windows.
-- Rows loaded before this migration keep '{}' (their manifests still say).
ALTER TABLE etl_loaded_batch
    ADD COLUMN ingest_batches text[] NOT NULL DEFAULT '{}';
