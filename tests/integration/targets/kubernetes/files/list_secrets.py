"""Print the Secrets whose names start with a prefix, with their resource versions, so that a test can tell whether
any was written.  Only this run's: other writers of the shared API server must not count."""

import sys

from kubernetes import client, config

config.load_kube_config(sys.argv[1])
for secret in sorted(client.CoreV1Api().list_secret_for_all_namespaces().items, key=lambda s: s.metadata.uid):
    if secret.metadata.name.startswith(sys.argv[2]):
        print(secret.metadata.namespace, secret.metadata.name, secret.metadata.resource_version)
