"""This project's transform: `glue_jobs/star_schema.run` on a local[2] SparkSession.

Called as the local runner calls it: the ingest bucket's directory mirror in, a fresh
processed directory out, the Glue catalog and the buckets in moto. One SparkSession serves
every repetition (as one warm Glue worker would); its start-up is reported apart.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
from pathlib import Path
from typing import Any

from bench.measure import child_main, spread, timed
from local.manifest_files import processed_manifests
from local.spark import counted_jobs
from pipeline_common.contracts.manifests import ProcessedManifest


def processed_counts(processed_dir: Path) -> dict[str, int]:
    """Rows per star table over the processed manifests the job wrote."""
    counts: dict[str, int] = {}
    for manifest in processed_manifests(processed_dir):
        for table, entry in manifest.tables.items():
            if entry.kind == "dimension":
                counts[table] = entry.rows  # a snapshot: the newest is the table
            else:
                counts[table] = counts.get(table, 0) + entry.rows
    return counts


def spark_floor(spark: Any, scratch: Path, repeat: int) -> dict[str, Any]:
    """Spark's own fixed cost on this machine: an empty action, and one tiny Parquet write.

    Measured on the warm session after the passes (as a pass after the first pays it), so a
    pass's seconds can be read as a number of these.
    """
    empty: list[float] = []
    tiny: list[float] = []
    frame = spark.createDataFrame([(1, "a")], "id INT, name STRING")
    for rep in range(repeat):
        with timed() as clock:
            spark.sparkContext.emptyRDD().count()
        empty.append(clock["seconds"])
        with timed() as clock:
            frame.write.mode("overwrite").parquet(str(scratch / f"tiny-{rep}"))
        tiny.append(clock["seconds"])
    shutil.rmtree(scratch, ignore_errors=True)
    return {"empty_action_seconds": spread(empty), "tiny_parquet_seconds": spread(tiny)}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ingest-dir", required=True, type=Path)
    parser.add_argument("--ingest-bucket", required=True)
    parser.add_argument("--processed-root", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--base-processed",
        type=Path,
        help="incremental: a lake from a full pass; its pending batches but the last are "
        "processed untimed first, then each repetition times the last one on a copy",
    )


def _job_args(
    args: argparse.Namespace, processed: Path, database: str, bucket: str
) -> dict[str, str]:
    return {
        "ingest_location": str(args.ingest_dir),
        "processed_location": str(processed),
        "database": database,
        "ingest_bucket": args.ingest_bucket,
        "processed_bucket": bucket,
    }


def _incremental(args: argparse.Namespace, spark: Any, s3: Any, glue: Any) -> dict[str, Any]:
    """A steady-state pass: the last ingest batch on a lake that holds every earlier one."""
    star_schema = importlib.import_module("glue_jobs.star_schema")
    manifests = sorted((args.ingest_dir / "_manifests").glob("*.json"))
    last, held = manifests[-1], args.processed_root / "held" / manifests[-1].name
    caught_up = args.processed_root / "caught-up"
    shutil.rmtree(args.processed_root, ignore_errors=True)
    shutil.copytree(args.base_processed, caught_up)
    database = "bench_glue_incremental"
    glue.create_database(DatabaseInput={"Name": database})
    job_args = _job_args(args, caught_up, database, "bench-processed-glue-incremental")
    held.parent.mkdir(parents=True)
    last.rename(held)  # the batches before it are processed first, untimed
    try:
        star_schema.run(spark, job_args, s3=s3, glue=glue)
    finally:
        held.rename(last)
    runs: list[float] = []
    spark_jobs: list[int] = []
    for rep in range(args.repeat):
        processed = args.processed_root / f"rep-{rep}"
        shutil.copytree(caught_up, processed)
        job_args["processed_location"] = str(processed)
        with timed() as clock, counted_jobs(spark, "bench-transform-incremental") as jobs:
            manifest = star_schema.run(spark, job_args, s3=s3, glue=glue)
        runs.append(clock["seconds"])
        spark_jobs.append(jobs["jobs"])
        if not manifest or ProcessedManifest.from_json(manifest).ingest_batches != (last.stem,):
            raise RuntimeError(f"the incremental pass did not process exactly {last.stem}")
        shutil.rmtree(processed)
    shutil.rmtree(args.processed_root, ignore_errors=True)
    return {"runs": runs, "spark_jobs": spark_jobs, "batch_id": last.stem}


def _work(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    from local.spark import local_spark_session

    with timed() as startup:
        spark = local_spark_session("totesys-bench", cores=args.cores)
    star_schema = importlib.import_module("glue_jobs.star_schema")
    s3, glue = boto3.client("s3"), boto3.client("glue")
    if args.base_processed is not None:
        try:
            return {**_incremental(args, spark, s3, glue), "startup_seconds": startup["seconds"]}
        finally:
            spark.stop()
    runs: list[float] = []
    spark_jobs: list[int] = []
    counts: dict[str, int] = {}
    quarantined = 0
    try:
        for rep in range(args.repeat):
            processed = args.processed_root / f"rep-{rep}"
            shutil.rmtree(processed, ignore_errors=True)
            processed.mkdir(parents=True)
            database, bucket = f"bench_glue_{rep}", f"bench-processed-glue-{rep}"
            glue.create_database(DatabaseInput={"Name": database})
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name},
            )
            job_args = _job_args(args, processed, database, bucket)
            with timed() as clock, counted_jobs(spark, "bench-transform") as jobs:
                star_schema.run(spark, job_args, s3=s3, glue=glue)
            runs.append(clock["seconds"])
            spark_jobs.append(jobs["jobs"])
            counts = processed_counts(processed)
            quarantined = sum(
                sum(manifest.quarantined.values()) for manifest in processed_manifests(processed)
            )
            if rep < args.repeat - 1:
                shutil.rmtree(processed)  # keep the last run's output for the load stage
        floor = spark_floor(spark, args.processed_root / "floor", args.repeat)
    finally:
        spark.stop()
    return {
        "runs": runs,
        "startup_seconds": startup["seconds"],
        "spark_jobs": spark_jobs,
        "floor": floor,
        "tables": counts,
        "output_rows": sum(counts.values()),
        "quarantined_rows": quarantined,
        "processed_dir": str(args.processed_root / f"rep-{args.repeat - 1}"),
    }


def main(argv: list[str] | None = None) -> None:
    child_main(__doc__ or "", _arguments, _work, argv)


if __name__ == "__main__":
    main()
