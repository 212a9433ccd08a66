"""Fault rules: make matching AWS calls fail with a given code, at a rate, a limited number of times."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

RULE_FIELDS = ("service", "action", "code", "status", "rate", "count", "message")


class RuleError(ValueError):
    """A fault rule that cannot be used, with what is wrong in the message."""


@dataclass
class FaultRule:
    service: str
    code: str
    action: str | None = None
    status: int = 400
    rate: float = 1.0
    count: int | None = None
    message: str | None = None
    id: int = 0
    fired: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.service or not self.code:
            raise RuleError("a fault rule needs a service and a code")
        if not 0.0 <= self.rate <= 1.0:
            raise RuleError(f"rate must be between 0 and 1, got {self.rate}")
        if not 100 <= self.status <= 599:
            raise RuleError(f"status must be an HTTP status, got {self.status}")
        if self.count is not None and self.count < 0:
            raise RuleError(f"count must be 0 or more, got {self.count}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        unknown = set(data) - set(RULE_FIELDS)
        if unknown:
            raise RuleError(f"unknown fault rule fields: {', '.join(sorted(unknown))}")
        try:
            return cls(
                service=str(data.get("service") or ""),
                code=str(data.get("code") or ""),
                action=data.get("action") or None,
                status=int(data.get("status", 400)),
                rate=float(data.get("rate", 1.0)),
                count=None if data.get("count") is None else int(data["count"]),
                message=data.get("message") or None,
            )
        except RuleError:
            raise
        except (TypeError, ValueError) as err:
            raise RuleError(f"bad fault rule: {err}") from err

    def matches(self, names: Iterable[str], operation: str) -> bool:
        return self.service in names and (self.action is None or self.action == operation)

    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def describe(self) -> str:
        return self.message or f"Injected by the sandbox fault rule {self.id}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultSet:
    """The active rules. Thread-safe: the server is threaded."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            kept = [rule for rule in self._rules if rule.id != rule_id]
            removed = len(kept) != len(self._rules)
            self._rules = kept
            return removed

    def pick(self, names: Iterable[str], operation: str) -> FaultRule | None:
        """The first rule that fires for this call (counting the firing), or None."""
        names = frozenset(names)
        with self._lock:
            for rule in self._rules:
                if not rule.matches(names, operation) or rule.exhausted():
                    continue
                if rule.rate >= 1.0 or self._rng.random() < rule.rate:
                    rule.fired += 1
                    return rule
            return None
