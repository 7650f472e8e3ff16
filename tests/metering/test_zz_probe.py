from tests.metering.test_clickhouse import METERS, MONTH, MeterFactory, ingest, event, clickhouse_sync, every_read, ClickHouseRollupCoverage, AT
from metering.clickhouse_rollups import clickhouse_rollups_rebuild, clickhouse_rollups_check

def test_probe(db, clickhouse):
    meters = [MeterFactory(event_name="call", **spec) for spec in METERS]
    ingest([event(1, 10, v=5), event(2, 70, v="0.5"), event(3, 130, v=7)])
    clickhouse_sync()
    for m in meters:
        clickhouse_rollups_rebuild(meter=m, at=AT)
    ingest([event(4, 75, v=1)])
    clickhouse_sync()
    assert clickhouse_rollups_check() == []
    res = [every_read(m, MONTH) for m in meters]
    ClickHouseRollupCoverage.objects.all().delete()
    assert res == [every_read(m, MONTH) for m in meters]
