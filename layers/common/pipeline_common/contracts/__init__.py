"""The contracts between the stages (docs/contracts.md), standard library only.

- `batch`: the batch-id format.
- `keys`: every key of both buckets the stages hand to each other.
- `manifests`: the ingest and processed manifests, typed (parse, validate, serialize).
- `star`: the star schema's one definition.
"""
