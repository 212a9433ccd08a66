"""Overlays on moto's in-process models, where moto falls short.

- ``ecs``: service deployments (ROLLING, BLUE_GREEN, LINEAR, CANARY), ListServiceDeployments,
  DescribeServiceDeployments, StopServiceDeployment; a WSGI middleware in front of moto's app.
- ``elbv2``: target health from real HTTP probes, draining, listener-rule weights.
- ``budgets``: UpdateBudget and the subscriber calls moto lacks, on moto's budget models.
"""
