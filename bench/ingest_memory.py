"""Peak memory and speed of a full ingest extract (issue 3's 256 MB budget), not a test.

    python bench/ingest_memory.py [--orders 1000000] [--seed 1] [--dsn postgresql://...]

Seeds a throwaway ToteSys database with the generator (or uses the seeded database a DSN
names), starts moto in this process, then runs one full extract in a child process and
reports the child's peak RSS (getrusage ru_maxrss) and rows/s. The child does nothing but
the run, so seeding, moto's stored objects and this report are not counted. The
throwaway database is dropped afterwards.

The child is started first, while this process is still small, and waits for its settings
on stdin: Linux carries a forked process's RSS at fork time into the child's ru_maxrss
even across exec, so a child forked after seeding would report the seeder's memory.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess  # nosec B404
import sys
import time
from pathlib import Path
from typing import Any

from pipeline_common.contracts.manifests import IngestManifest
from pipeline_common.s3objects import read_json

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "layers" / "common", ROOT / "ingest_fn", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

BUCKET = "bench-ingest"
# The name of a secret in moto, not a secret.
SECRET_ID = "bench/totesys"  # nosec B105


def _vm_hwm_mb() -> float:
    """Peak RSS of this process's own address space (Linux VmHWM), as a cross-check."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child() -> None:
    """Wait for the environment on stdin, run one extract, print a JSON line of figures."""
    os.environ.update(json.loads(sys.stdin.readline()))
    import boto3

    from ingest.run import run_ingest
    from ingest.settings import Settings

    s3, secrets = boto3.client("s3"), boto3.client("secretsmanager")
    settings = Settings.from_env()
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = run_ingest(settings, s3=s3, secretsmanager=secrets)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "summary": summary.to_dict(),
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "baseline_rss_mb": baseline_kb / 1024,
                "peak_rss_mb": peak_kb / 1024,
                "vm_hwm_mb": _vm_hwm_mb(),
            }
        )
    )


def _csv_bytes(s3: Any, key: str) -> int:
    """Uncompressed size of a part, streamed (this process's memory is not measured)."""
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
    total = 0
    with gzip.GzipFile(fileobj=body) as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dsn", help="an already seeded ToteSys database (not dropped)")
    parser.add_argument("--part-rows", type=int, help="PART_ROWS for the run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    # Started now, while this process is small (see above); runs this same script.
    extract = subprocess.Popen(  # nosec B603
        [sys.executable, __file__, "--child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run(args, extract)
    finally:
        if extract.poll() is None:
            extract.kill()
            extract.wait()


def run(args: argparse.Namespace, extract: subprocess.Popen[str]) -> None:
    """Seed, start moto, hand the child its settings, and report its figures."""
    import boto3

    from local.dsn import dsn_to_secret
    from local.services import aws_env, find_pg_server, start_moto_server

    server = None
    database = None
    if args.dsn:
        secret = dsn_to_secret(args.dsn)
    else:
        from local.totesys.generator import seed

        server = find_pg_server()
        database = server.create_database("bench")
        secret = server.secret(database)
        conn = server.connect(database)
        started = time.perf_counter()
        counts = seed(conn, args.orders, args.seed)
        conn.close()
        print(f"seeded {args.orders:,} orders in {time.perf_counter() - started:.0f} s: {counts}")
    moto = start_moto_server()
    try:
        env = dict(aws_env(moto.endpoint))
        env.update(
            INGEST_BUCKET=BUCKET,
            SOURCE_SECRET_ID=SECRET_ID,
            COMMIT_LAG_SECONDS="0",
            POWERTOOLS_SERVICE_NAME="bench-ingest",
            POWERTOOLS_LOG_LEVEL="WARNING",
        )
        if args.part_rows:
            env["PART_ROWS"] = str(args.part_rows)
        os.environ.update(aws_env(moto.endpoint))
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        boto3.client("secretsmanager").create_secret(
            Name=SECRET_ID, SecretString=json.dumps(secret)
        )
        stdout, stderr = extract.communicate(json.dumps(env) + "\n")
        if extract.returncode != 0:
            print(stdout, stderr, sep="\n", file=sys.stderr)
            raise SystemExit(f"extract failed with exit code {extract.returncode}")
        figures = json.loads(stdout.strip().splitlines()[-1])
        children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        manifest_key = figures["summary"]["manifest_key"]
        manifest = IngestManifest.from_json(read_json(s3, BUCKET, manifest_key), manifest_key)
        rows = sum(figures["summary"]["rows"].values())
        print(
            f"extract: {rows:,} rows in {figures['seconds']:.1f} s = "
            f"{rows / figures['seconds']:,.0f} rows/s; the extract process used "
            f"{figures['cpu_seconds']:.1f} CPU s = {rows / figures['cpu_seconds']:,.0f} rows/CPU s "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        print(
            f"peak RSS of the extract process: {figures['peak_rss_mb']:.1f} MB "
            f"(after imports, before the run: {figures['baseline_rss_mb']:.1f} MB; "
            f"VmHWM {figures['vm_hwm_mb']:.1f} MB; "
            f"getrusage(RUSAGE_CHILDREN): {children_kb / 1024:.1f} MB)"
        )
        print(f"{'table':<16}{'rows':>10}{'parts':>7}{'gzip MB':>10}{'csv MB':>10}{'B/row':>8}")
        for table, entry in manifest.tables.items():
            csv_bytes = sum(_csv_bytes(s3, part.key) for part in entry.parts)
            print(
                f"{table:<16}{entry.rows:>10,}{len(entry.parts):>7}"
                f"{entry.bytes / 1e6:>10.1f}{csv_bytes / 1e6:>10.1f}"
                f"{csv_bytes / entry.rows:>8.0f}"
            )
    finally:
        moto.stop()
        if server is not None and database is not None:
            server.drop_database(database)


if __name__ == "__main__":
    main()
