"""Change capture from ToteSys into the ingest bucket (the work behind ingest_fn's handler).

One run: lock, read watermarks, open one consistent snapshot, stream every table's window
`[lo, hi)` through COPY and gzip into S3, write the manifest last, then the watermark cache.
"""
