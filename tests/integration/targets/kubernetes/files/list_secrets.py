"""Print every Secret of the cluster with its resource version, so that a test can tell whether any was written."""

import sys

from kubernetes import client, config

config.load_kube_config(sys.argv[1])
for secret in sorted(client.CoreV1Api().list_secret_for_all_namespaces().items, key=lambda s: s.metadata.uid):
    print(secret.metadata.namespace, secret.metadata.name, secret.metadata.resource_version)
