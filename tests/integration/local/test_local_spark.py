"""The local SparkSession's file system: Hadoop's, with permissions set without a child process."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from local.spark import LOCAL_FS_CLASS


def _local_fs(spark: Any) -> Any:
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    return jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf)


def test_file_paths_use_the_fork_free_local_file_system(spark: Any, tmp_path: Path) -> None:
    assert _local_fs(spark).getClass().getName() == LOCAL_FS_CLASS
    out = tmp_path / "t"
    spark.range(3).coalesce(1).write.parquet(str(out))  # a write that Spark's tasks run
    [part] = [p for p in out.iterdir() if p.name.startswith("part-")]
    # Hadoop's defaults under the usual 022 umask: what its chmod child process set before.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(part.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert spark.read.parquet(str(out)).count() == 3


def test_every_permission_bit_is_set_as_asked(spark: Any, tmp_path: Path) -> None:
    jvm = spark.sparkContext._jvm
    fs = _local_fs(spark)
    target = tmp_path / "f"
    target.write_text("x")
    for mode in (0o640, 0o751, 0o404, 0o000, 0o777):
        fs.setPermission(
            jvm.org.apache.hadoop.fs.Path(str(target)),
            jvm.org.apache.hadoop.fs.permission.FsPermission(mode),
        )
        assert stat.S_IMODE(target.stat().st_mode) == mode, oct(mode)
