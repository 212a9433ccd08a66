# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one error a module's logic raises when it cannot go on: each service's error is a subclass."""

from __future__ import annotations

from typing import Any


class ModuleError(Exception):
    """A run cannot go on, or ended badly: ``message`` says what to do next, ``details`` go to the result."""

    def __init__(self, message: str, **details: Any) -> None:
        self.message = message
        self.details = details
        super().__init__(message)
