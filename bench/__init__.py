"""`make bench`: every stage of the pipeline against its physical limit and its alternative.

Each measurement runs in a fresh subprocess (`python -m bench.<module>`), so one
measurement's memory and warm caches never pollute another's peak RSS.
"""
