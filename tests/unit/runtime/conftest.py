# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runtime package (runtime/) and the test fixtures (tests/) on the path, for the unit tests below."""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
if str(ROOT / "runtime") not in sys.path:
    sys.path.insert(0, str(ROOT / "runtime"))
# Last, so that none of the fixtures' package names can stand in for an installed one.
if str(ROOT / "tests") not in sys.path:
    sys.path.append(str(ROOT / "tests"))
