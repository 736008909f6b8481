# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VirtRigaud provider runtime: provider.v1 over gRPC, served by the collection's provider layer.

Run ``python -m virtrigaud_runtime --help`` with the collection's parent
folder (the one holding ``ansible_collections``) and this folder's parent on
PYTHONPATH.
"""

VERSION = "0.1.0"
