# Copyright: Contributors to the macroai.deploy collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Options every Neon module of the collection takes (see plugins/module_utils/_neon.py)."""

    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - "Neon API key, sent as C(Authorization: Bearer <key>)."
      - When not set, the E(NEON_API_KEY) environment variable is used.
      - Never shown in output or logs.
    type: str
    required: true
  base_url:
    description:
      - Base URL of Neon's API v2.
      - When not set, the E(NEON_API_URL) environment variable is used, then V(https://console.neon.tech/api/v2).
      - The offline sandbox's emulator answers at C(http://127.0.0.1:<port>/neon/api/v2).
    type: str
    default: https://console.neon.tech/api/v2
  project_id:
    description:
      - ID of the Neon project, for example V(misty-frost-12345678).
      - When not set, the E(NEON_PROJECT_ID) environment variable is used.
    type: str
    required: true
  request_timeout:
    description:
      - Seconds to wait for Neon to answer one HTTP request.
    type: float
    default: 30
  retries:
    description:
      - How many times a request answered 423 (another operation is running), 429 (rate limited) or 503 is
        retried, with exponential backoff and jitter (0.5 s doubling up to 16 s; three minutes at most).
      - A write that got no answer at all is never repeated blindly; the module reads the branch again first.
    type: int
    default: 6
notes:
  - Every change Neon makes runs as operations; the module waits for each one to finish before its next
    call, as Neon requires, and returns them.
"""
