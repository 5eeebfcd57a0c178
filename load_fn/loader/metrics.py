"""CloudWatch metrics (EMF) of a load run: batches, rows per table, freshness.

LoadFailed is counted by the handler's error boundary (pipeline_common.handler).
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from loader.load import LoadResult
from loader.settings import Settings

logger = Logger(child=True)


def record_load_metrics(metrics: Metrics, result: LoadResult, settings: Settings) -> None:
    """BatchesLoaded and QuarantinedRows on the handler's metrics; RowsLoaded per `table`."""
    loaded = [batch for batch in result.batches if not batch.already_loaded]
    metrics.add_metric(name="BatchesLoaded", unit=MetricUnit.Count, value=len(loaded))
    # QuarantinedRowsAlarm in template.yaml watches this (dimension `service` only, 0 included).
    metrics.add_metric(
        name="QuarantinedRows", unit=MetricUnit.Count, value=result.rows_quarantined()
    )
    for table, rows in sorted(result.rows_written().items()):
        with single_metric(
            name="RowsLoaded",
            unit=MetricUnit.Count,
            value=rows,
            namespace=settings.metrics_namespace,
            default_dimensions={"service": settings.service_name},
        ) as metric:
            metric.add_dimension(name="table", value=table)


def record_freshness(metrics: Metrics, result: LoadResult, now: datetime) -> None:
    """FreshnessSeconds: now minus the newest source change the warehouse holds.

    An empty warehouse emits nothing: the freshness alarm treats missing data as breaching,
    so "nothing loaded yet" alarms as "stale" does.
    """
    if result.newest_source_change is None:
        logger.warning("warehouse holds no source change yet; FreshnessSeconds not emitted")
        return
    lag = (now - result.newest_source_change).total_seconds()
    metrics.add_metric(name="FreshnessSeconds", unit=MetricUnit.Seconds, value=round(lag, 3))
