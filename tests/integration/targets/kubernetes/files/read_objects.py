"""Print, as one JSON object, the OVIM spoke's Service, NetworkPolicy, ClusterRoleBinding and Secret as the API
server stores them, for a field-by-field comparison."""

import json
import sys

from kubernetes import client, config

config.load_kube_config(sys.argv[1])
namespace = sys.argv[2]
api = client.ApiClient()
stored = {
    "service": client.CoreV1Api().read_namespaced_service("ovim-spoke-agent", namespace),
    "policy": client.NetworkingV1Api().read_namespaced_network_policy("ovim-spoke-agent", namespace),
    "binding": client.RbacAuthorizationV1Api().read_cluster_role_binding("ovim-spoke-agent-" + namespace),
    "secret": client.CoreV1Api().read_namespaced_secret("ovim-spoke-agent", namespace),
}
print(json.dumps({key: api.sanitize_for_serialization(value) for key, value in stored.items()}))
