# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this collection's AWS modules share: clients whose every call is retried."""

from __future__ import annotations

import functools
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


class RetryingClient:
    """A boto3 client whose API calls all pass ``aws_retry=True``.

    amazon.aws retries only the calls made with that argument; passing it on every call keeps the logic in
    module_utils plain boto3, callable from unit tests with a fake client. Everything that is not an API
    operation (``exceptions``, ``meta``, ``get_paginator``, ``get_waiter``, ...) passes through unchanged:
    those do not take the argument.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_client":  # copy and pickle look these up before __init__ ran
            raise AttributeError(name)
        attribute = getattr(self._client, name)
        if name in self._client.meta.method_to_api_mapping:
            return functools.partial(attribute, aws_retry=True)
        return attribute


def retrying_clients(module: Any, *services: str) -> list[RetryingClient]:
    """One client per service name, retried with jittered backoff on throttling and transient errors."""
    retry = AWSRetry.jittered_backoff()
    return [RetryingClient(module.client(service, retry_decorator=retry)) for service in services]
