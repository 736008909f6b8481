"""Delete VirtRigaud objects by kind plural and name: those a module writes with no state=absent of its own.

usage: delete_documents.py KUBECONFIG NAMESPACE PLURAL/NAME...
"""

import sys

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

config.load_kube_config(sys.argv[1])
api = client.CustomObjectsApi()
for ref in sys.argv[3:]:
    plural, name = ref.split("/", 1)
    try:
        api.delete_namespaced_custom_object("infra.virtrigaud.io", "v1beta1", sys.argv[2], plural, name)
        print("deleted %s" % ref)
    except ApiException as err:
        if err.status != 404:
            raise
