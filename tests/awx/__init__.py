# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX's execution path for the tests: credential types rendered as AWX does, jobs through ansible-runner."""
