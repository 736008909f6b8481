# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the provider runtime's Deployment, as the provider_runtime role wrote it, with podman; and the OVIM spoke
agent's, as the ovim_spoke role wrote it.

Debian's podman 4.3 cannot ``kube play`` a pod that mounts a Secret, so this does
what a kubelet would: the pod template becomes one ``podman run``, with the
image, args and environment (``fieldRef`` values resolved), Secret volumes
written out as files at their mount paths, emptyDirs as tmpfs, and the security
context as flags.  Then the Deployment's own probe paths must answer, and the
runtime must serve gRPC over mTLS with the hypervisor behind it.

    python -m container.harness run NAMESPACE PROVIDER [--mutate M] [--keep] [--host-libvirt]
    python -m container.harness spoke NAMESPACE HUB_CONTROL_URL
    python -m container.harness stop

For the spoke, the pod's ServiceAccount token (a TokenRequest), the API server's CA and the namespace are
mounted where a kubelet mounts them, with KUBERNETES_SERVICE_HOST and _PORT set: the agent reaches the
kube-apiserver in-cluster, with exactly its ClusterRole's rights.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Optional
from urllib.parse import urlsplit

from ansible_collections.virtrigaud.core.plugins.module_utils.kube.client import Kube, KubeConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.runtime import CHECKSUM_ANNOTATION, object_name
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.base import ProviderConfig
from ansible_collections.virtrigaud.core.plugins.module_utils.providers.registry import open_provider

CONTAINER = "virtrigaud-runtime-under-test"
SPOKE_CONTAINER = "virtrigaud-spoke-under-test"
SPOKE_DEPLOYMENT = "ovim-spoke-agent"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Changes to the role's output that would break a real pod; each must fail the run.
MUTATIONS = {
    "tls-mount-path": "the TLS Secret mounted at /etc/virtrigaud/certs instead of /etc/virtrigaud/tls",
    "missing-provider-type": "no PROVIDER_TYPE in the environment (upstream's flags carry no type)",
    "probe-port": "the readiness probe on port 8081 instead of the HTTP port",
}


class PodError(Exception):
    """The pod would not run, or not become ready, as written."""


def _field(pod: dict, path: str, namespace: str, name: str) -> str:
    """A downward-API value, as the kubelet fills it in."""
    if path == "metadata.namespace":
        return namespace
    if path == "metadata.name":
        return name
    label = re.match(r"^metadata\.labels\['([^']+)'\]$", path)
    if label:
        return (pod["metadata"].get("labels") or {}).get(label.group(1), "")
    raise PodError("fieldRef %s is not one this harness resolves" % path)


def _secret_files(secret: dict, folder: str, items: Optional[list] = None) -> str:
    """The Secret's keys as files, or only the volume's ``items`` at their paths, as the kubelet writes them."""
    os.makedirs(folder, mode=0o755)
    data = secret.get("data") or {}
    paths = {item["key"]: item["path"] for item in items} if items else {key: key for key in data}
    for key, relative in paths.items():
        if key not in data:
            raise PodError("the Secret has no key %s that the volume names" % key)
        value = data[key]
        path = os.path.join(folder, relative)
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(value))
        os.chmod(path, 0o644)
    return folder


def podman_run(deployment: dict, secrets: dict[str, dict], folder: str, extra: tuple[str, ...] = (),
               name: str = CONTAINER) -> list[str]:
    """The ``podman run`` that starts this Deployment's first container the way a kubelet would."""
    namespace = deployment["metadata"]["namespace"]
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    container = spec["containers"][0]
    volumes = {volume["name"]: volume for volume in spec.get("volumes") or []}
    args = ["podman", "run", "--detach", "--name", name, "--network", "host", "--pull", "never"]
    security = container.get("securityContext") or {}
    user = security.get("runAsUser")
    if security.get("runAsNonRoot") and user in (None, 0):
        raise PodError("runAsNonRoot is set without a non-root runAsUser")
    if user is not None:
        args += ["--user", str(user)]
    if security.get("readOnlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]
    if security.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    for capability in (security.get("capabilities") or {}).get("drop") or []:
        args += ["--cap-drop", capability]
    for capability in (security.get("capabilities") or {}).get("add") or []:
        args += ["--cap-add", capability]
    limits = (container.get("resources") or {}).get("limits") or {}
    if limits.get("memory"):
        args += ["--memory", limits["memory"].replace("Mi", "m").replace("Gi", "g")]
    for entry in container.get("env") or []:
        if "value" in entry:
            value = entry["value"]
        elif "fieldRef" in entry.get("valueFrom", {}):
            value = _field(pod, entry["valueFrom"]["fieldRef"]["fieldPath"], namespace, name)
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            value = base64.b64decode(secrets[ref["name"]]["data"][ref["key"]]).decode("utf-8")
        else:
            raise PodError("env %s has a source this harness does not resolve" % entry["name"])
        args += ["--env", "%s=%s" % (entry["name"], value)]
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise PodError("volumeMount %s names no volume" % mount["name"])
        if "secret" in volume:
            secret_name = volume["secret"]["secretName"]
            if secret_name not in secrets:
                raise PodError("Secret %s of volume %s does not exist" % (secret_name, mount["name"]))
            files = _secret_files(secrets[secret_name], os.path.join(folder, mount["name"]),
                                  volume["secret"].get("items"))
            args += ["--volume", "%s:%s:%s" % (files, mount["mountPath"], "ro" if mount.get("readOnly") else "rw")]
        elif "emptyDir" in volume:
            size = (volume["emptyDir"].get("sizeLimit") or "64Mi").replace("Mi", "m").replace("Gi", "g")
            args += ["--tmpfs", "%s:rw,size=%s,mode=1777" % (mount["mountPath"], size)]
        else:
            raise PodError("volume %s has a type this harness does not run" % mount["name"])
    args += list(extra)
    args.append(container["image"])
    return args + list(container.get("args") or [])


def http_probe(probe: dict, deadline: float, name: str = CONTAINER) -> None:
    """Wait until the probe's path answers 200 on its port, as the kubelet's HTTP probe would."""
    get = probe["httpGet"]
    url = "http://127.0.0.1:%s%s" % (get["port"], get["path"])
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
                last = "HTTP %s" % response.status
        except OSError as err:
            last = str(err)
        if not _running(name):
            raise PodError("the container exited: %s" % _logs(name))
        time.sleep(0.2)
    raise PodError("the probe %s did not answer 200 (%s); /health says: %s; the log ends: %s"
                   % (url, last, _health_report(get["port"]), _logs(name)))


def _health_report(port: int) -> str:
    """The runtime's own account of why it is not ready (its /health answers 503 with the checks)."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/health" % port, timeout=1) as response:
            return response.read().decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as err:
        return err.read().decode("utf-8", "replace").strip()
    except OSError as err:
        return str(err)


def grpc_check(port: int, tls: Optional[dict]) -> dict[str, Any]:
    """Validate, capabilities and the VM list through the collection's gRPC client, over mTLS."""
    with tempfile.TemporaryDirectory() as folder:
        options: dict[str, Any] = {"insecure": tls is None}
        for key, option in (("ca.crt", "ca_path"), ("tls.crt", "client_cert"), ("tls.key", "client_key")):
            if tls is not None:
                path = os.path.join(folder, key)
                with open(path, "wb") as handle:
                    handle.write(base64.b64decode(tls[key]))
                options[option] = path
        provider = open_provider(ProviderConfig(type="remote", uri="127.0.0.1:%d" % port, options=options))
        try:
            provider.validate()
            return {"capabilities": provider.capabilities().to_dict(), "vms": len(provider.list_vms())}
        finally:
            provider.close()


def _running(name: str = CONTAINER) -> bool:
    result = subprocess.run(["podman", "inspect", "--format", "{{.State.Running}}", name],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip() == "true"


def _logs(name: str = CONTAINER) -> str:
    result = subprocess.run(["podman", "logs", "--tail", "5", name], capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).strip().replace("\n", " | ")[-600:]


def stop(name: str = CONTAINER) -> None:
    subprocess.run(["podman", "rm", "--force", "--time", "2", name], capture_output=True, check=False)


def mutate(deployment: dict, mutation: str) -> dict:
    changed = copy.deepcopy(deployment)
    container = changed["spec"]["template"]["spec"]["containers"][0]
    if mutation == "tls-mount-path":
        for mount in container["volumeMounts"]:
            if mount["mountPath"] == "/etc/virtrigaud/tls":
                mount["mountPath"] = "/etc/virtrigaud/certs"
    elif mutation == "missing-provider-type":
        container["env"] = [entry for entry in container["env"] if entry["name"] != "PROVIDER_TYPE"]
    elif mutation == "probe-port":
        container["readinessProbe"]["httpGet"]["port"] = 8081
    return changed


def run(namespace: str, provider_name: str, mutation: Optional[str], keep: bool, extra: tuple[str, ...],
        timeout: float) -> dict[str, Any]:
    kube = Kube(KubeConfig(kubeconfig=os.environ.get("KUBECONFIG")))
    provider = kube.get("Provider", provider_name, namespace)
    if provider is None:
        raise PodError("no Provider %s/%s" % (namespace, provider_name))
    deployment = kube.get("Deployment", object_name(provider), namespace)
    if deployment is None:
        raise PodError("the role wrote no Deployment for %s/%s" % (namespace, provider_name))
    if mutation:
        deployment = mutate(deployment, mutation)
    volumes = deployment["spec"]["template"]["spec"].get("volumes") or []
    secrets = {}
    for volume in volumes:
        if "secret" in volume:
            name = volume["secret"]["secretName"]
            secrets[name] = kube.get("Secret", name, namespace) or {}
    kube.close()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    folder = tempfile.mkdtemp(prefix="virtrigaud-pod-")
    os.chmod(folder, 0o755)
    stop()
    try:
        started = time.monotonic()
        subprocess.run(podman_run(deployment, secrets, folder, extra), check=True, capture_output=True, text=True)
        deadline = started + timeout
        http_probe(container["readinessProbe"], deadline)
        http_probe(container["livenessProbe"], deadline)
        ready = time.monotonic() - started
        grpc_port = next(port["containerPort"] for port in container["ports"] if port["name"] == "grpc")
        tls_volume = next((v for v in volumes if v["name"] == "provider-tls"), None)
        tls = secrets[tls_volume["secret"]["secretName"]]["data"] if tls_volume else None
        checked = grpc_check(grpc_port, tls)
        checksum = (deployment["spec"]["template"]["metadata"].get("annotations") or {}).get(CHECKSUM_ANNOTATION)
        return {"ready_seconds": round(ready, 2), "grpc_port": grpc_port, "credentials_checksum": checksum, **checked}
    finally:
        if not keep:
            stop()
        shutil.rmtree(folder, ignore_errors=True)


def _service_account(kube: Kube, pod: dict, namespace: str, folder: str) -> tuple[str, ...]:
    """What a kubelet gives a pod whose ServiceAccount token is mounted: a bound token, the API server's CA and
    the namespace as files, and the API server's address in the environment."""
    if not pod["spec"].get("automountServiceAccountToken", True):
        return ()
    account = pod["spec"].get("serviceAccountName") or "default"
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    token = kube.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (namespace, account),
                         request)["status"]["token"]
    files = os.path.join(folder, "serviceaccount")
    os.makedirs(files, mode=0o755)
    with open(kube._settings_object.ssl_ca_cert, "rb") as handle:  # pylint: disable=protected-access
        ca = handle.read()
    for key, value in (("token", token.encode()), ("ca.crt", ca), ("namespace", namespace.encode())):
        with open(os.path.join(files, key), "wb") as handle:
            handle.write(value)
        os.chmod(os.path.join(files, key), 0o644)
    server = urlsplit(kube.base)
    return ("--volume", "%s:%s:ro" % (files, SERVICE_ACCOUNT_DIR),
            "--env", "KUBERNETES_SERVICE_HOST=%s" % server.hostname,
            "--env", "KUBERNETES_SERVICE_PORT=%s" % server.port)


def _hub_reports(control: str, agent_id: str) -> list[dict]:
    with urllib.request.urlopen(control + "/state", timeout=5) as response:
        return [report for report in json.loads(response.read())["reports"] if report["agent_id"] == agent_id]


def run_spoke(namespace: str, control: str, timeout: float) -> dict[str, Any]:
    """The ovim_spoke role's Deployment as written: both probes answer 200 and the fake hub gets its report."""
    kube = Kube(KubeConfig(kubeconfig=os.environ.get("KUBECONFIG")))
    deployment = kube.get("Deployment", SPOKE_DEPLOYMENT, namespace)
    if deployment is None:
        raise PodError("the role wrote no Deployment %s/%s" % (namespace, SPOKE_DEPLOYMENT))
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    names = {volume["secret"]["secretName"] for volume in pod["spec"].get("volumes") or [] if "secret" in volume}
    names |= {entry["valueFrom"]["secretKeyRef"]["name"] for entry in container.get("env") or []
              if "secretKeyRef" in entry.get("valueFrom", {})}
    secrets = {name: kube.get("Secret", name, namespace) or {} for name in names}
    agent_id = next(entry["value"] for entry in container["env"] if entry["name"] == "OVIM_AGENT_ID")
    folder = tempfile.mkdtemp(prefix="virtrigaud-spoke-pod-")
    os.chmod(folder, 0o755)
    stop(SPOKE_CONTAINER)
    try:
        extra = _service_account(kube, pod, namespace, folder)
        kube.close()
        started = time.monotonic()
        subprocess.run(podman_run(deployment, secrets, folder, extra, SPOKE_CONTAINER), check=True,
                       capture_output=True, text=True)
        deadline = started + timeout
        http_probe(container["livenessProbe"], deadline, SPOKE_CONTAINER)
        http_probe(container["readinessProbe"], deadline, SPOKE_CONTAINER)
        ready = time.monotonic() - started
        while not _hub_reports(control, agent_id):
            if time.monotonic() > deadline:
                raise PodError("the fake hub got no report from %s; the log ends: %s"
                               % (agent_id, _logs(SPOKE_CONTAINER)))
            time.sleep(0.2)
        report = _hub_reports(control, agent_id)[0]
        return {"ready_seconds": round(ready, 2), "agent_id": agent_id, "hub_status": report["status"],
                "callback_url": report.get("callback_url"), "report_errors": report.get("errors") or []}
    finally:
        stop(SPOKE_CONTAINER)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="container.harness")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("run")
    start.add_argument("namespace")
    start.add_argument("provider")
    start.add_argument("--mutate", choices=sorted(MUTATIONS))
    start.add_argument("--keep", action="store_true", help="leave the container running")
    start.add_argument("--host-libvirt", action="store_true", help="mount the host's libvirtd socket")
    start.add_argument("--timeout", type=float, default=30.0)
    spoke = commands.add_parser("spoke")
    spoke.add_argument("namespace")
    spoke.add_argument("control", help="the fake hub's control URL")
    spoke.add_argument("--timeout", type=float, default=60.0)
    commands.add_parser("stop")
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop()
        stop(SPOKE_CONTAINER)
        return 0
    if args.command == "spoke":
        try:
            result = run_spoke(args.namespace, args.control, args.timeout)
        except Exception as err:  # pylint: disable=broad-exception-caught  # every failure is the pod's verdict
            detail = getattr(err, "stderr", "") or ""
            print(json.dumps({"ok": False, "error": "%s %s" % (err, detail.strip())}))
            return 1
        print(json.dumps(dict(result, ok=True)))
        return 0
    extra = ("--volume", "/var/run/libvirt:/var/run/libvirt") if args.host_libvirt else ()
    try:
        result = run(args.namespace, args.provider, args.mutate, args.keep, extra, args.timeout)
    except (PodError, subprocess.CalledProcessError, Exception) as err:  # every failure is the pod's verdict
        detail = getattr(err, "stderr", "") or ""
        print(json.dumps({"ok": False, "mutation": args.mutate, "error": "%s %s" % (err, detail.strip())}))
        return 1
    print(json.dumps(dict(result, ok=True, mutation=args.mutate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
