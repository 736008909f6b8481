# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Go durations (``30s``, ``1m30s``, ``500ms``) as the upstream CRDs write them."""

from __future__ import annotations

import re
from typing import Optional

from ..errors import SpecError

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")


def check_duration(value: Optional[str], option: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise SpecError("'%s' is not a duration; use a Go duration such as 30s, 5m or 1h30m" % (value,), option=option)
    return value


def seconds(value: str, option: str) -> float:
    """The duration in seconds; a duration that is not one is refused by ``option``."""
    check_duration(value, option)
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(value))
