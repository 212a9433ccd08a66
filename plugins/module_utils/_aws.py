# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this collection's AWS modules share: clients whose every call is retried."""

from __future__ import annotations

import functools
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


class RetryingClient:
    """A boto3 client whose calls all pass ``aws_retry=True``.

    amazon.aws retries only the calls made with that argument; passing it on every call keeps the logic in
    module_utils plain boto3, callable from unit tests with a fake client.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return functools.partial(getattr(self._client, name), aws_retry=True)


def retrying_clients(module: Any, *services: str) -> list[RetryingClient]:
    """One client per service name, retried with jittered backoff on throttling and transient errors."""
    retry = AWSRetry.jittered_backoff()
    return [RetryingClient(module.client(service, retry_decorator=retry)) for service in services]
