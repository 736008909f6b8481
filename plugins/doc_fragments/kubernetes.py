# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Paired with argspec.kube_spec().
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, for the Kubernetes resources and for O(provider_type=kubevirt).
      - Without it and without O(host), C(KUBECONFIG) or C(~/.kube/config) is read; inside a pod, the pod's
        service account is used.
      - The environment variable E(K8S_AUTH_KUBECONFIG) is the fallback.
    type: path
  context:
    description:
      - The kubeconfig context to use instead of its current one.
      - The environment variable E(K8S_AUTH_CONTEXT) is the fallback.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, used with O(api_key) instead of a kubeconfig.
      - The environment variable E(K8S_AUTH_HOST) is the fallback.
    type: str
  api_key:
    description:
      - Bearer token for O(host).
      - The environment variable E(K8S_AUTH_API_KEY) is the fallback.
    type: str
  ca_cert:
    description:
      - CA bundle that signed the API server's certificate, for O(host).
      - The environment variable E(K8S_AUTH_SSL_CA_CERT) is the fallback.
    type: path
    aliases: [ssl_ca_cert]
  kube_validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - The environment variable E(K8S_AUTH_VERIFY_SSL) is the fallback; without either, V(true).
    type: bool
requirements:
  - kubernetes >= 24.2 (the Python client)
"""

    # For modules that accept these options only so module_defaults for the group can set them.
    UNUSED = r"""
options: {}
notes:
  - This module accepts the Kubernetes connection options so that C(module_defaults) for the
    C(virtrigaud.core.virtrigaud) group can set them for a whole play, and does not use them.
"""
