# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VMMigration manifest as virtrigaud_vm_migration's ``definition``, run in-process on the mock provider."""

from __future__ import annotations

from ansible_collections.virtrigaud.core.plugins.modules import virtrigaud_vm, virtrigaud_vm_migration

from .utils import VM, run

MIGRATION = """
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMMigration
metadata: {name: web-to-h2}
spec:
  source: {vmRef: {name: web}, providerRef: {name: lab}}
  target: {name: web, providerRef: {name: lab}, placementRef: {name: on-h2}}
  metadata: {purpose: maintenance}
---
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMPlacementPolicy
metadata: {name: on-h2}
spec: {hard: {hosts: [h2], datastores: [fast]}}
"""


def test_a_vmmigration_moves_the_vm_twice(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM, placement={"host": "h1"}))
    args = dict(connection, definition=MIGRATION)
    runs = [run(virtrigaud_vm_migration, capsys, args, check_mode=check) for check in (True, False, True, False)]
    assert [r["changed"] for r in runs] == [True, True, False, False], runs
    assert runs[0]["changes"] == runs[1]["changes"]
    assert runs[3]["placement"] == {"host": "h2", "datastore": "fast"}


def _refusal(connection, capsys, definition, **extra):
    failed = run(virtrigaud_vm_migration, capsys, dict(connection, definition=definition, **extra))
    assert failed["failed"] and failed["error_code"] == "invalid_spec", failed
    return failed["msg"]


def test_what_a_move_within_one_backend_cannot_do_is_refused_by_its_path(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    cases = {
        "source: {vmRef: {name: web}, providerRef: {name: lab}, powerOffBeforeMigration: true}":
            "field spec.source.powerOffBeforeMigration is not carried out",
        "storage: {type: s3, s3: {bucket: b, credentialsSecretRef: {name: s}}}": "field spec.storage.type",
        "target: {name: web2, providerRef: {name: lab}, placementRef: {name: on-h2}}": "field spec.target.name",
        "target: {name: web, providerRef: {name: pve}, placementRef: {name: on-h2}}": "field spec.target.providerRef",
        "target: {name: web, providerRef: {name: lab}, placementRef: {name: on-h2}, classRef: {name: big}}":
            "field spec.target.classRef.name",
    }
    for line, named in cases.items():
        key = line.split(":", 1)[0]
        lines = [entry for entry in MIGRATION.splitlines() if not entry.startswith("  %s:" % key)]
        definition = "\n".join(lines).replace("spec:\n", "spec:\n  %s\n" % line, 1)
        assert named in _refusal(connection, capsys, definition)


def test_a_policy_says_exactly_one_place_and_nothing_else(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM))
    assert "field spec.hard.hosts: a move goes to one place" in _refusal(
        connection, capsys, MIGRATION.replace("hosts: [h2]", "hosts: [h1, h2]"))
    assert "VMPlacementPolicy 'on-h2': field spec.hard.zones" in _refusal(
        connection, capsys, MIGRATION.replace("datastores: [fast]", "datastores: [fast], zones: [z]"))
    assert "spec.target.placementRef" in _refusal(
        connection, capsys, MIGRATION.replace(", placementRef: {name: on-h2}", "").split("---", maxsplit=1)[0])


def test_what_the_api_server_refuses_is_refused_first(connection, capsys):
    msg = _refusal(connection, capsys, MIGRATION.replace("target: {name: web, ", "target: {"))
    assert "VMMigration 'web-to-h2', field spec.target" in msg and "name" in msg


def test_flat_options_beside_a_definition_are_refused(connection, capsys):
    failed = run(virtrigaud_vm_migration, capsys, dict(connection, definition=MIGRATION, vm_name="web"))
    assert failed["failed"] and "definition" in failed["msg"] and "vm_name" in failed["msg"]


POLICY_VM = """
apiVersion: infra.virtrigaud.io/v1beta1
kind: VirtualMachine
metadata: {name: placed}
spec:
  providerRef: {name: lab}
  placementRef: {name: only-h2}
  imageRef: {name: base}
  classRef: {name: tiny}
  powerState: "Off"
---
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMClass
metadata: {name: tiny}
spec: {cpu: 1, memory: 256Mi}
---
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMImage
metadata: {name: base}
spec: {source: {libvirt: {path: base-image}}}
---
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMPlacementPolicy
metadata: {name: only-h2}
spec: {hard: {hosts: [mock-2]}}
"""


def test_a_vm_manifest_is_placed_by_the_policy_its_placement_ref_names(connection, capsys):
    args = dict(connection, definition=POLICY_VM)
    runs = [run(virtrigaud_vm, capsys, args, check_mode=check) for check in (True, False, True, False)]
    assert [r["changed"] for r in runs] == [True, True, False, False], runs
    assert runs[3]["vm"]["placement"]["host"] == "mock-2"


def test_a_policys_priority_and_weight_are_accepted_as_they_rank_policies_and_a_vm_names_one(connection, capsys):
    ranked = POLICY_VM.replace("hosts: [mock-2]}", "hosts: [mock-2]}, priority: 5, weight: 50")
    placed = run(virtrigaud_vm, capsys, dict(connection, definition=ranked))
    assert placed["vm"]["placement"]["host"] == "mock-2", placed


def test_a_policy_field_placement_here_cannot_honour_is_refused_by_name(connection, capsys):
    for old, new, named in (("hosts: [mock-2]}", "hosts: [mock-2]}, resourceConstraints: {maxCPUUtilization: 80}",
                             "sets spec.resourceConstraints"),
                            ("hosts: [mock-2]", "hosts: [mock-2], datastores: [fast]", "spec.hard.datastores")):
        failed = run(virtrigaud_vm, capsys, dict(connection, definition=POLICY_VM.replace(old, new)))
        assert failed["failed"] and named in failed["msg"], failed
    failed = run(virtrigaud_vm, capsys, dict(connection, definition=POLICY_VM.rsplit("---", 1)[0]))
    assert "placementRef names VMPlacementPolicy 'only-h2', which is not among the documents" in failed["msg"]


CLONE = """
apiVersion: infra.virtrigaud.io/v1beta1
kind: VMClone
metadata: {name: web-copy}
spec:
  source: {vmRef: {name: web}}
  target: {name: web-copy, providerRef: {name: lab}}
  options: {type: FullClone, powerOn: false}
"""


def test_a_vmclone_manifest_clones_twice_then_removes_the_clone(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **dict(VM, state="stopped")))
    args = dict(connection, definition=CLONE)
    runs = [run(virtrigaud_vm, capsys, args, check_mode=check) for check in (True, False, True, False)]
    assert [r["changed"] for r in runs] == [True, True, False, False], runs
    assert [c["action"] for c in runs[1]["changes"]] == ["clone"] and runs[3]["vm"]["name"] == "web-copy"
    assert runs[3]["vm"]["power_state"] == "Off"
    assert run(virtrigaud_vm, capsys, dict(args, state="absent"))["changed"]


def test_what_a_clone_here_cannot_do_is_refused_by_its_path(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **dict(VM, state="stopped")))
    for old, new, named in (("type: FullClone", "type: InstantClone", "field spec.options.type"),
                            ("source: {vmRef: {name: web}}", "source: {templateRef: {name: web}}",
                             "field spec.source.templateRef.name"),
                            ("powerOn: false}", "powerOn: false}\n  customization: {hostname: h}",
                             "field spec.customization.hostname")):
        failed = run(virtrigaud_vm, capsys, dict(connection, definition=CLONE.replace(old, new)))
        assert failed["failed"] and named in failed["msg"], failed
    failed = run(virtrigaud_vm, capsys, dict(connection, definition=CLONE, clone_from="web"))
    assert failed["failed"] and "clone_from" in failed["msg"]


def test_the_target_stays_in_the_migration_namespace(connection, capsys):
    run(virtrigaud_vm, capsys, dict(connection, **VM, placement={"host": "h1"}))
    same = MIGRATION.replace("target: {name: web,", "target: {namespace: default, name: web,")
    assert not run(virtrigaud_vm_migration, capsys, dict(connection, definition=same), check_mode=True).get("failed")
    assert "field spec.target.namespace: the VM stays in namespace 'default'" in _refusal(
        connection, capsys, same.replace("namespace: default", "namespace: other"))
