# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One AWX job or inventory update: its private data dir, its transmission, and what its artifacts say.

Used by scripts/test.sh (stage runner), which runs each job as AWX has an execution node run it:
``transmit | ansible-runner worker | ansible-runner process``.

    python -m awx.job prepare JOB --template DIR --ident ID [--inventory-source PATH] < job.json
    python -m awx.job transmit JOB --ident ID
    python -m awx.job report JOB --ident ID [--changed N] [--hosts H,...] [--group NAME=H,...]...

``JOB/pdd`` is the private data dir on the controller's side, ``JOB/work`` the one the worker unpacks.
job.json holds what AWX would take from its database: ``credentials`` (each a ``type`` file of
docs/awx/credential_types and its ``inputs``), ``extra_vars``, and ``task_env`` (AWX's "extra environment
variables" setting).  The job's environment is built as AWX builds it: its own variables, then the task
environment, then each credential's injectors.  ``JOB/job_env.json`` is that environment with secrets
hidden, as AWX stores it; ``JOB/secret_variables.json`` names the variables that carry a secret.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from typing import Any, Mapping

import yaml

from .render import CredentialTypeError, Injection, inject, load

# AWX's own environment for every inventory update.
INVENTORY_UPDATE_ENV = {
    "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
    "ANSIBLE_INVENTORY_EXPORT": "True",
    "ANSIBLE_VERBOSE_TO_STDERR": "True",
}
DEFAULT_COLLECTIONS_PATHS = ("~/.ansible/collections", "/usr/share/ansible/collections")


def prepare(job: str, template: str, ident: str, request: Mapping[str, Any], inventory_source: str | None) -> None:
    pdd, worker = os.path.join(job, "pdd"), os.path.join(job, "work")
    shutil.copytree(template, pdd, symlinks=True)
    os.makedirs(os.path.join(pdd, "env"), mode=0o700, exist_ok=True)
    inventory_update = inventory_source is not None
    env = awx_env(worker, inventory_update)
    env.update(request.get("task_env") or {})
    safe_env = dict(env)
    args: list[str] = []
    secret: list[str] = []
    for credential in request.get("credentials") or []:
        injection = inject(load(credential["type"]), credential.get("inputs") or {}, pdd, worker, inventory_update)
        _merge(env, injection, credential["type"])
        safe_env.update(injection.safe_env)
        args += injection.args
        secret += injection.secret_variables
    _write(os.path.join(pdd, "env", "envvars"), yaml.safe_dump(env, default_flow_style=False))
    if request.get("extra_vars"):
        _write(os.path.join(pdd, "env", "extravars"), yaml.safe_dump(request["extra_vars"], default_flow_style=False))
    if inventory_source is not None:
        _write(os.path.join(pdd, "args"), shlex.join(inventory_command(worker, ident, inventory_source)))
    elif args:
        _write(os.path.join(pdd, "env", "cmdline"), shlex.join(args))
    _write(os.path.join(job, "job_env.json"), json.dumps(safe_env, indent=1, sort_keys=True))
    _write(os.path.join(job, "secret_variables.json"), json.dumps(sorted(secret)))


def awx_env(worker: str, inventory_update: bool) -> dict[str, str]:
    """What AWX itself puts in a job's environment that matters here: first of all, where collections are.

    AWX also sets its numeric ids (JOB_ID, INVENTORY_UPDATE_ID), which ansible-runner's callback reads as
    numbers; the stage's jobs are named instead, so they are left out.
    """
    paths = [os.path.join(worker, "requirements_collections"), *DEFAULT_COLLECTIONS_PATHS]
    env = {"ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(paths)}
    env.update(INVENTORY_UPDATE_ENV if inventory_update else {"ANSIBLE_RETRY_FILES_ENABLED": "False"})
    return env


def inventory_command(worker: str, ident: str, source: str) -> list[str]:
    """The command line AWX runs for an inventory update from a project's inventory file."""
    location = os.path.join(worker, "project", source)
    return ["ansible-inventory", "--list", "--export", "-i", location,
            "--output", os.path.join(worker, "artifacts", ident, "output.json"),
            "--playbook-dir", os.path.dirname(location)]


def _merge(env: dict[str, str], injection: Injection, source: str) -> None:
    clash = sorted(name for name in injection.env if name in env)
    if clash:
        raise CredentialTypeError("%s injects %s, already set for this job" % (source, ", ".join(clash)))
    env.update(injection.env)


def _write(path: str, text: str) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)


def transmit(job: str, ident: str) -> int:
    """Stream the job to a worker through ansible-runner's Python interface, as AWX transmits every job.

    The ``transmit`` command line wants a playbook, a module or a role; an inventory update has none of them,
    only the ``args`` file of its private data dir, so it goes through the interface.
    """
    import ansible_runner  # pylint: disable=import-outside-toplevel  # only this command needs it

    result = ansible_runner.interface.run(streamer="transmit", _output=sys.stdout.buffer,
                                          private_data_dir=os.path.join(job, "pdd"), ident=ident)
    return 0 if result.rc in (0, None) else 1


class Artifacts:
    """What ``ansible-runner process`` wrote for one job."""

    def __init__(self, job: str, ident: str) -> None:
        self.job = job
        self.path = os.path.join(job, "pdd", "artifacts", ident)
        self.status = self._read("status").strip()
        self.rc = self._read("rc").strip()
        folder = os.path.join(self.path, "job_events")
        names = sorted(os.listdir(folder), key=lambda name: int(name.split("-", 1)[0]))
        self.events = [self._load(os.path.join(folder, name)) for name in names]

    def _read(self, name: str) -> str:
        with open(os.path.join(self.path, name), encoding="utf-8") as handle:
            return handle.read()

    @staticmethod
    def _load(path: str) -> dict[str, Any]:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    def stats(self) -> dict[str, int]:
        """The play recap summed over hosts, from the playbook_on_stats event."""
        found = [event["event_data"] for event in self.events if event.get("event") == "playbook_on_stats"]
        if not found:
            raise AssertionError("no playbook_on_stats event among %d events" % len(self.events))
        return {key: sum(found[-1].get(key, {}).values()) for key in ("ok", "changed", "failures", "dark", "skipped")}

    def inventory(self) -> tuple[set[str], dict[str, set[str]]]:
        """The hosts and each group's direct members, from the update's output.json."""
        data = self._load(os.path.join(self.path, "output.json"))
        hosts = set(data.get("_meta", {}).get("hostvars", {}))
        groups = {name: set(group.get("hosts", [])) for name, group in data.items() if name != "_meta"}
        return hosts, groups

    def scrub_commands(self) -> None:
        """Copy each recorded command (the worker's and the controller's) without the secret variables.

        ansible-runner records the job's whole environment in ``command``, so the credentials' secrets are
        there by design, as in AWX's own private data dir; every other part of the record must be clean.
        """
        with open(os.path.join(self.job, "secret_variables.json"), encoding="utf-8") as handle:
            secret = set(json.load(handle))
        ident = os.path.basename(self.path)
        for side in ("pdd", "work"):
            record = self._load(os.path.join(self.job, side, "artifacts", ident, "command"))
            record["env"] = {name: value for name, value in record.get("env", {}).items() if name not in secret}
            _write(os.path.join(self.job, side + "-command-scrubbed.json"), json.dumps(record, indent=1))


def report(job: str, ident: str, changed: int | None, hosts: list[str], groups: list[tuple[str, set[str]]]) -> str:
    """Check one job's artifacts; a line that sums it up, or AssertionError naming what is wrong."""
    artifacts = Artifacts(job, ident)
    if artifacts.status != "successful" or artifacts.rc != "0":
        raise AssertionError("%s: status %s, rc %s" % (ident, artifacts.status, artifacts.rc))
    artifacts.scrub_commands()
    if hosts or groups:
        return _inventory_line(artifacts, hosts, groups)
    stats = artifacts.stats()
    if stats["failures"] or stats["dark"] or (changed is not None and stats["changed"] != changed):
        raise AssertionError("%s: recap %s, expected changed=%s and no failure" % (ident, stats, changed))
    return "successful, %d events; changed=%d ok=%d failed=0" % (len(artifacts.events), stats["changed"], stats["ok"])


def _inventory_line(artifacts: Artifacts, hosts: list[str], groups: list[tuple[str, set[str]]]) -> str:
    listed, members = artifacts.inventory()
    missing = sorted(set(hosts) - listed)
    if missing:
        raise AssertionError("inventory: %s missing among %s" % (missing, sorted(listed)))
    for name, expected in groups:
        got = members.get(name, set()) & set(hosts)
        if got != expected:
            raise AssertionError("inventory: group %s holds %s of this run's hosts, not %s"
                                 % (name, sorted(got), sorted(expected)))
    return "successful; %d hosts listed, this run's %s in groups %s" % (
        len(listed), " and ".join(hosts), ", ".join(name for name, _members in groups))


def _group(text: str) -> tuple[str, set[str]]:
    """NAME=HOST,HOST: a group and the hosts of this run it must hold."""
    name, sign, members = text.partition("=")
    if not name or not sign:
        raise argparse.ArgumentTypeError("%s is not NAME=HOST,..." % text)
    return name, set(filter(None, members.split(",")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m awx.job")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("prepare", "transmit", "report"):
        command = commands.add_parser(name)
        command.add_argument("job")
        command.add_argument("--ident", required=True)
    commands.choices["prepare"].add_argument("--template", required=True)
    commands.choices["prepare"].add_argument("--inventory-source")
    commands.choices["report"].add_argument("--changed", type=int)
    commands.choices["report"].add_argument("--hosts", type=lambda text: text.split(","), default=[])
    commands.choices["report"].add_argument("--group", type=_group, action="append", default=[])
    options = parser.parse_args(argv)
    try:
        if options.command == "prepare":
            prepare(options.job, options.template, options.ident, json.load(sys.stdin), options.inventory_source)
        elif options.command == "transmit":
            return transmit(options.job, options.ident)
        else:
            print(report(options.job, options.ident, options.changed, options.hosts, options.group))
    except (AssertionError, CredentialTypeError, OSError, KeyError) as err:
        print("%s: %s" % (options.command, err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
