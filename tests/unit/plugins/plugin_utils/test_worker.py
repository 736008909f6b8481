# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The worker: every module honours its contract, secrets are masked, and what it cannot host goes to the module."""

from __future__ import annotations

import importlib
import json
import pathlib
from types import SimpleNamespace

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virtrigaud.core.plugins.module_utils import errors
from ansible_collections.virtrigaud.core.plugins.module_utils.providers import registry
from ansible_collections.virtrigaud.core.plugins.plugin_utils.worker import WorkerAction

ROOT = pathlib.Path(__file__).parents[4]
GROUP = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["virtrigaud"]
SECRET = "vr-secret-worker-41"
THROUGH_MODULE = {"failed": False, "changed": False, "through": "module"}


class Action(WorkerAction):
    """The worker with Ansible's task, connection and play context reduced to what it reads."""

    def __init__(self, module, args, transport="local", become=False, async_val=0, environment=()):
        # pylint: disable=super-init-not-called
        self.module_name = module
        self._task = SimpleNamespace(args=args, check_mode=False, diff=False, async_val=async_val,
                                     environment=list(environment), action="virtrigaud.core." + module)
        self._connection = SimpleNamespace(transport=transport, has_native_async=False,
                                           _shell=SimpleNamespace(tmpdir="/nonexistent"))
        self._play_context = SimpleNamespace(become=become)
        self.module_runs = []

    def _execute_module(self, task_vars=None, wrap_async=False, **kwargs):
        self.module_runs.append(wrap_async)
        return dict(THROUGH_MODULE)

    def _remove_tmp_path(self, tmp_path, force=False):
        pass


@pytest.fixture
def mock_uri(tmp_path):
    return "mock://%s" % (tmp_path / "state.json")


@pytest.mark.parametrize("module", GROUP)
def test_every_module_of_the_group_honours_the_worker_contract(module):
    loaded = importlib.import_module("ansible_collections.virtrigaud.core.plugins.modules." + module)
    assert callable(loaded.run) and isinstance(loaded.argument_spec(), dict)
    assert isinstance(loaded.OPTION_RULES, dict)
    action = importlib.import_module("ansible_collections.virtrigaud.core.plugins.action." + module)
    assert issubclass(action.ActionModule, WorkerAction) and action.ActionModule.module_name == module


def test_no_log_values_are_masked_in_the_result(mock_uri):
    args = {"provider_type": "mock", "uri": mock_uri, "name": SECRET, "password": SECRET, "cpu": 1,
            "memory": "256Mi", "state": "stopped"}
    result = Action("virtrigaud_vm", args).run(task_vars={})
    assert result["changed"] and SECRET not in json.dumps(result)
    assert result["vm"]["name"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert any("password is not a mock setting" in warning for warning in result["warnings"])


def test_secrets_read_from_the_environment_are_masked_too(monkeypatch):
    pytest.importorskip("libvirt")
    monkeypatch.setenv("LIBVIRT_PASSWORD", SECRET)
    monkeypatch.setenv("LIBVIRT_STORAGE_POOL", "default-pool")
    args = {"provider_type": "libvirt", "uri": "test:///default", "name": SECRET, "cpu": 1, "memory": "256Mi",
            "state": "stopped", "libvirt_domain_type": "qemu"}
    result = Action("virtrigaud_vm", args).run(task_vars={})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] and SECRET not in json.dumps(result)


@pytest.mark.parametrize("how", [
    {"transport": "ssh"}, {"become": True}, {"async_val": 30}, {"environment": [{"HTTPS_PROXY": "proxy:3128"}]},
])
def test_what_the_worker_cannot_host_runs_as_the_module(mock_uri, how):
    action = Action("virtrigaud_vm_info", {"provider_type": "mock", "uri": mock_uri}, **how)
    assert action.run(task_vars={})["through"] == "module"
    assert action.module_runs == [bool(how.get("async_val"))]


def test_a_library_only_the_target_may_have_sends_the_task_to_the_module(mock_uri, monkeypatch):
    def missing():
        raise errors.MissingDependency("pyvmomi", "for vSphere", ImportError("No module named 'pyVmomi'"))

    monkeypatch.setitem(registry._LOADERS, "mock", missing)  # pylint: disable=protected-access
    action = Action("virtrigaud_vm_info", {"provider_type": "mock", "uri": mock_uri})
    assert action.run(task_vars={})["through"] == "module" and action.module_runs == [False]


def test_both_paths_give_the_same_result(mock_uri, capsys):
    create = {"provider_type": "mock", "uri": mock_uri, "name": "web", "cpu": 1, "memory": "256Mi", "state": "stopped"}
    assert Action("virtrigaud_vm", create).run(task_vars={})["changed"]
    in_worker = Action("virtrigaud_vm_info", {"provider_type": "mock", "uri": mock_uri}).run(task_vars={})
    module = importlib.import_module("ansible_collections.virtrigaud.core.plugins.modules.virtrigaud_vm_info")
    with patch_module_args({"provider_type": "mock", "uri": mock_uri}), pytest.raises(SystemExit):
        module.main()
    as_module = json.loads(capsys.readouterr().out)
    assert in_worker["vms"] == as_module["vms"] and in_worker["changed"] is as_module["changed"] is False


def test_bad_options_fail_in_the_worker_as_in_the_module(mock_uri):
    result = Action("virtrigaud_vm", {"provider_type": "mock", "uri": mock_uri, "name": "web", "cpu": "many"}).run(
        task_vars={})
    assert result["failed"] and "cpu" in result["msg"]
