# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The count of the gRPC bad-input corpus (test_bad_input.py), printed at the end like the targets print theirs."""

from __future__ import annotations

CORPUS = ("test_bad_input.py::test_bad_request[", "test_bad_input.py::test_bad_bytes[")


def pytest_terminal_summary(terminalreporter):
    passed = [report for report in terminalreporter.stats.get("passed", ())
              if any(marker in report.nodeid for marker in CORPUS)]
    if passed:
        terminalreporter.write_line("%d gRPC bad-input cases failed cleanly" % len(passed))
