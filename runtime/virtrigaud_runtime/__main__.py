# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m virtrigaud_runtime``: start the provider runtime; ``python -m virtrigaud_runtime spoke``: the OVIM
spoke."""

from __future__ import annotations

import sys

from . import VERSION
from .config import SettingsError, settings


def main() -> int:
    if sys.argv[1:2] == ["spoke"]:
        from .spoke.agent import main as spoke  # pylint: disable=import-outside-toplevel  # grpc is not needed

        return spoke()
    if sys.argv[1:2] in (["--version"], ["version"]):
        print("virtrigaud-provider-runtime %s" % VERSION)
        return 0
    from .workers import serve  # pylint: disable=import-outside-toplevel  # grpc loads only for a real start

    try:
        return serve(settings(sys.argv[1:]))
    except SettingsError as err:
        print("virtrigaud-provider-runtime: %s" % err, file=sys.stderr)
        return 1


sys.exit(main())
