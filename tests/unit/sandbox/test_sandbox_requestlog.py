"""The request log's filters."""

from __future__ import annotations

from sandbox.requestlog import RequestLog


def _record(log: RequestLog, service: str, api: str, operation: str, write: bool, time: float) -> None:
    log.record(
        service=service,
        api=api,
        operation=operation,
        write=write,
        status=200,
        time=time,
        duration_ms=1.0,
        faulted=False,
        method="POST",
        path="/",
    )


def test_filters() -> None:
    log = RequestLog()
    _record(log, "ec2", "ec2", "CreateVpc", True, 10.0)
    _record(log, "monitoring", "cloudwatch", "DescribeAlarms", False, 20.0)
    _record(log, "ec2", "ec2", "DescribeVpcs", False, 30.0)
    assert [e["operation"] for e in log.query(service="ec2")] == ["CreateVpc", "DescribeVpcs"]
    assert [e["operation"] for e in log.query(service="cloudwatch")] == ["DescribeAlarms"]
    assert [e["operation"] for e in log.query(service="monitoring")] == ["DescribeAlarms"]
    assert [e["operation"] for e in log.query(write=True)] == ["CreateVpc"]
    assert [e["operation"] for e in log.query(since=20.0)] == ["DescribeAlarms", "DescribeVpcs"]
    assert [e["seq"] for e in log.query()] == [1, 2, 3]
    log.clear()
    assert log.query() == []


def test_bounded() -> None:
    log = RequestLog(max_entries=2)
    for second in range(3):
        _record(log, "ec2", "ec2", "DescribeVpcs", False, float(second))
    assert [e["time"] for e in log.query()] == [1.0, 2.0]
