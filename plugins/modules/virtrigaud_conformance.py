#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_conformance
short_description: Check a VirtRigaud provider against the provider.v1 contract over gRPC
version_added: 0.3.0
description:
  - Drives any VirtRigaud provider (the collection's runtime, upstream's, or your own) through the contract, one
    step at a time, each with one result (passed, failed or skipped) and its time.
  - "The steps: Validate; GetCapabilities; Create, and Create again with the same name (the same id); Describe,
    and Describe of a missing VM (C(exists=false), no error); power on, reboot, off and graceful shutdown,
    polling each TaskRef; Reconfigure online and offline; snapshot create, revert and delete; Clone; ListVMs;
    ImagePrepare, twice; the error codes for a bad spec (C(INVALID_ARGUMENT)), a missing VM (C(NOT_FOUND)) and
    a method the provider does not serve (C(UNIMPLEMENTED)); Delete, and Delete again (success); and every
    call within the per-RPC deadline of upstream's manager."
  - A step that needs a capability is skipped, with the reason, when GetCapabilities says the provider lacks
    it; when the provider claims it and then fails, the step fails.
  - Every VM the run creates is named with O(run_prefix) and removed at the end, also when a step fails; a VM
    still there after the cleanup fails the run.
  - Writes a JUnit XML file, a JSON file and a Markdown table to O(report_dir). The module itself fails only
    when it cannot run; the steps' outcome is in RV(summary) (the role C(virtrigaud.core.conformance) fails
    on a failed step).
  - The connection is the one of O(provider_type=remote) (O(uri), O(ca_path), O(client_cert),
    O(client_key), O(tls_server_name), O(insecure)).
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.connection.unused
  - virtrigaud.core.kubernetes
  - virtrigaud.core.kubernetes.unused
  - virtrigaud.core.attributes
options:
  run_prefix:
    description:
      - The prefix of every name the run gives, such as C(vrc-1a2b3c); a lower-case DNS label.
    type: str
    required: true
  image:
    description: The image (template, volume or path, as the provider names it) the test VMs are created from.
    type: str
  cpu:
    description: vCPUs of the test VMs.
    type: int
    default: 1
  memory_mib:
    description: Memory of the test VMs in MiB; Reconfigure adds 256 MiB online and 512 MiB offline.
    type: int
    default: 512
  network:
    description: The network or bridge of the test VMs' one NIC; none when unset.
    type: str
  image_source:
    description:
      - "The C(image_json) of the ImagePrepare step (upstream's C(VMImageSpec), such as
        C({\"source\": {\"http\": {\"url\": \"https://example.com/disk.qcow2\"}}})); the step is skipped without it."
    type: dict
  disk_dir:
    description:
      - An existing folder where the runtime runs for the disk steps' ExportDisk file (named with O(run_prefix));
        the disk steps are skipped without it.
      - ExportDisk and ImportDisk have no counterpart that removes what they made, so the exported file and the
        imported disk (named with the prefix) stay.
    type: str
  graceful_timeout:
    description: Seconds a graceful shutdown may take (C(graceful_timeout_seconds) of the Power call).
    type: int
    default: 30
  task_timeout:
    description: Seconds to poll one TaskRef before the step fails.
    type: int
    default: 600
  skip_steps:
    description: Steps to skip by name (recorded as skipped, by request).
    type: list
    elements: str
    default: []
  load_clients:
    description: Clients of the load phase; C(0) runs no load phase.
    type: int
    default: 0
  load_seconds:
    description: Seconds the load phase runs.
    type: int
    default: 10
  report_dir:
    description: The folder for C(conformance.xml) (JUnit), C(conformance.json) and C(conformance.md).
    type: path
    required: true
notes:
  - The run creates and deletes VMs on the provider's backend, so aim it at a test bed or a folder of its own.
  - ImagePrepare has no counterpart that removes an image, so a prepared image stays (named with the prefix).
attributes:
  check_mode:
    support: none
    details: In check mode the suite does not run (it would create VMs); the task is reported as skipped.
  diff_mode:
    support: none
seealso:
  - module: virtrigaud.core.virtrigaud_provider_info
"""

EXAMPLES = r"""
- name: Check a provider runtime over mTLS, with a load phase
  virtrigaud.core.virtrigaud_conformance:
    provider_type: remote
    uri: provider.example.com:9443
    ca_path: /etc/virtrigaud/tls/ca.crt
    client_cert: /etc/virtrigaud/tls/tls.crt
    client_key: /etc/virtrigaud/tls/tls.key
    run_prefix: vrc-nightly
    image: ubuntu-22.04
    load_clients: 8
    load_seconds: 30
    report_dir: /tmp/conformance
  register: conformance

- name: Fail on a failed step
  ansible.builtin.assert:
    that: conformance.summary.failed == 0
    fail_msg: "{{ conformance.markdown }}"
"""

RETURN = r"""
summary:
  description: The number of steps by result.
  returned: success
  type: dict
  sample: {total: 24, passed: 21, failed: 0, skipped: 3}
steps:
  description: Each step in order, with C(name), C(status) (passed, failed, skipped), C(seconds) and C(error)
    (the error, or why it was skipped).
  returned: success
  type: list
  elements: dict
capabilities:
  description: What GetCapabilities answered (the fields that are set).
  returned: success
  type: dict
load:
  description: The load phase (C(clients), C(seconds), C(requests), C(throughput_per_second), C(p50_ms),
    C(p99_ms), C(errors), C(errors_by_code)); null without one.
  returned: success
  type: dict
leftovers:
  description: Ids of VMs with the run's prefix still there after the cleanup (empty when it removed all).
  returned: success
  type: list
  elements: str
markdown:
  description: The Markdown report.
  returned: success
  type: str
reports:
  description: The report files by kind (C(junit), C(json), C(markdown)).
  returned: success
  type: dict
ok:
  description: Whether no step failed and nothing was left behind.
  returned: success
  type: bool
"""

import re
from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.conformance import STEPS, Settings, Suite
from ansible_collections.virtrigaud.core.plugins.module_utils.conformance_report import markdown, write_reports
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import SpecError
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.remote.client import Channel

PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?")


def settings(params: dict[str, Any]) -> Settings:
    if params["provider_type"] != "remote":
        raise SpecError("the suite speaks gRPC to a provider: use provider_type=remote", option="provider_type")
    if not PREFIX.fullmatch(params["run_prefix"]):
        raise SpecError("%r is not a lower-case DNS label of at most 40 characters" % params["run_prefix"],
                        option="run_prefix")
    unknown = sorted(set(params["skip_steps"]) - set(STEPS))
    if unknown:
        raise SpecError("no such step: %s (the steps: %s)" % (", ".join(unknown), ", ".join(STEPS)),
                        option="skip_steps")
    for option, least in (("cpu", 1), ("memory_mib", 128), ("graceful_timeout", 0), ("task_timeout", 1),
                          ("load_clients", 0), ("load_seconds", 1)):
        if params[option] < least:
            raise SpecError("%d is less than %d" % (params[option], least), option=option)
    return Settings(prefix=params["run_prefix"], image=params["image"] or "", cpu=params["cpu"],
                    memory_mib=params["memory_mib"], network=params["network"] or "",
                    image_source=params["image_source"], disk_dir=params["disk_dir"] or "",
                    graceful_timeout=params["graceful_timeout"],
                    task_timeout=float(params["task_timeout"]), skip=tuple(params["skip_steps"]),
                    load_clients=params["load_clients"], load_seconds=float(params["load_seconds"]))


def run(m: VirtrigaudRun) -> dict[str, Any]:
    chosen = settings(m.params)
    if m.check_mode:
        return {"changed": False, "skipped": True, "msg": "the suite creates and removes VMs: not run in check mode"}
    channel = Channel(m.provider_config(), "vr-conformance-" + chosen.prefix)
    try:
        report = Suite(channel, chosen).run()
    finally:
        channel.close()
    result = report.to_dict()
    return {"changed": True, "summary": result["summary"], "steps": result["steps"],
            "capabilities": result["capabilities"], "load": result["load"], "leftovers": result["leftovers"],
            "markdown": markdown(report), "reports": write_reports(report, m.params["report_dir"]), "ok": report.ok}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "run_prefix": {"type": "str", "required": True},
        "image": {"type": "str"},
        "cpu": {"type": "int", "default": 1},
        "memory_mib": {"type": "int", "default": 512},
        "network": {"type": "str"},
        "image_source": {"type": "dict"},
        "disk_dir": {"type": "str"},
        "graceful_timeout": {"type": "int", "default": 30},
        "task_timeout": {"type": "int", "default": 600},
        "skip_steps": {"type": "list", "elements": "str", "default": []},
        "load_clients": {"type": "int", "default": 0},
        "load_seconds": {"type": "int", "default": 10},
        "report_dir": {"type": "path", "required": True},
    }


OPTION_RULES: dict[str, Any] = {}


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=False, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
