# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An OVIM spoke agent on the collection's provider layer: ``python -m virtrigaud_runtime spoke``.

It speaks the upstream hub's protocol (status reports, pulled and pushed
operations, results) and runs the operations through ``providers/``.
"""
