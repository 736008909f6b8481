# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX rendering of credential types (render.py), on the collection's own types and on made-up ones."""

from __future__ import annotations

import os
import pathlib

import pytest
import yaml

from .render import HIDDEN, CredentialTypeError, check_type, inject, load

TYPES = pathlib.Path(__file__).resolve().parents[2] / "docs" / "awx" / "credential_types"


def pdd(tmp_path):
    (tmp_path / "env").mkdir(parents=True)
    return str(tmp_path)


@pytest.mark.parametrize("path", sorted(TYPES.glob("*.yml")), ids=lambda path: path.stem)
def test_every_shipped_type_is_one_awx_accepts(path):
    load(str(path))


def test_env_injectors_hide_secrets_in_the_safe_copy(tmp_path):
    injected = inject(load(str(TYPES / "vsphere.yml")),
                      {"hostname": "vc.example.com", "username": "u", "password": "s3cret", "skip_tls_verify": True},
                      pdd(tmp_path), "/runner")
    assert injected.env["VMWARE_PASSWORD"] == "s3cret"
    assert injected.safe_env["VMWARE_PASSWORD"] == HIDDEN
    assert injected.env["VMWARE_VALIDATE_CERTS"] == "false"
    assert injected.env["VMWARE_PORT"] == ""  # the field's default fills AWX's form only
    assert injected.secret_variables == ("VMWARE_PASSWORD",)


def test_an_unset_boolean_is_false_so_certificates_stay_verified(tmp_path):
    injected = inject(load(str(TYPES / "vsphere.yml")), {"hostname": "h", "username": "u", "password": "p"},
                      pdd(tmp_path), "/runner")
    assert injected.env["VMWARE_VALIDATE_CERTS"] == "true"


def test_file_injectors_write_files_and_give_their_worker_paths(tmp_path):
    inputs = {"endpoint": "rt:9443", "ca_cert": "CA PEM", "client_cert": "CERT PEM", "client_key": "KEY PEM"}
    injected = inject(load(str(TYPES / "runtime.yml")), inputs, pdd(tmp_path), "/runner")
    key = injected.env["VIRTRIGAUD_CLIENT_KEY"]
    assert key.startswith("/runner/env/")
    written = tmp_path / os.path.relpath(key, "/runner")
    assert written.read_text() == "KEY PEM"
    assert oct(written.stat().st_mode & 0o777) == "0o660"
    assert injected.safe_env["VIRTRIGAUD_CLIENT_KEY"] == key  # a path is no secret; the file holds it
    paths = ("VIRTRIGAUD_CA_PATH", "VIRTRIGAUD_CLIENT_CERT", "VIRTRIGAUD_CLIENT_KEY")
    assert len({injected.env[name] for name in paths}) == 3


def test_a_single_file_is_tower_filename(tmp_path):
    definition = {"name": "one", "inputs": {"fields": [{"id": "body", "label": "b", "secret": True}]},
                  "injectors": {"file": {"template": "[x]\n{{ body }}"}, "env": {"ONE_FILE": "{{ tower.filename }}"}}}
    injected = inject(definition, {"body": "k=v"}, pdd(tmp_path), "/runner")
    assert (tmp_path / os.path.relpath(injected.env["ONE_FILE"], "/runner")).read_text() == "[x]\nk=v"


def test_extra_vars_go_to_a_file_passed_with_e_but_not_for_inventory_updates(tmp_path):
    definition = {"name": "vars", "inputs": {"fields": [{"id": "token", "label": "t", "secret": True}]},
                  "injectors": {"extra_vars": {"api_token": "{{ token }}"}}}
    injected = inject(definition, {"token": "abc"}, pdd(tmp_path), "/runner")
    assert injected.args[0] == "-e" and injected.args[1].startswith("@/runner/env/")
    extra_vars = tmp_path / os.path.relpath(injected.args[1][1:], "/runner")
    assert yaml.safe_load(extra_vars.read_text()) == {"api_token": "abc"}
    assert inject(definition, {"token": "abc"}, pdd(tmp_path / "inv"), "/runner", inventory_update=True).args == []


@pytest.mark.parametrize("injectors, message", [
    ({"env": {"ANSIBLE_HOST_KEY_CHECKING": "{{ a }}"}}, "reserved"),
    ({"env": {"JOB_ID": "{{ a }}"}}, "reserved"),
    ({"env": {"X": "{{ b }}"}}, "undefined"),
    ({"env": {"X": "{{ tower.filename.ca }}"}}, "undefined"),
    ({"file": {"template": "a", "template.ca": "b"}}, "template.NAME"),
    ({"file": {"tpl.ca": "a"}}, "neither"),
    ({"command": {"X": "a"}}, "unknown injector"),
])
def test_types_awx_refuses(injectors, message):
    with pytest.raises(CredentialTypeError, match=message):
        check_type({"inputs": {"fields": [{"id": "a", "label": "a"}]}, "injectors": injectors})


@pytest.mark.parametrize("inputs, message", [
    ({"hostname": "h", "username": "u"}, "requires password"),
    ({"hostname": "h", "username": "u", "password": "p", "api_password": "x"}, "no fields api_password"),
    ({"hostname": "h", "username": "u", "password": "p", "skip_tls_verify": "yes"}, "must be a boolean"),
])
def test_credentials_awx_refuses(tmp_path, inputs, message):
    with pytest.raises(CredentialTypeError, match=message):
        inject(load(str(TYPES / "vsphere.yml")), inputs, pdd(tmp_path), "/runner")
