#!/usr/bin/python
# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virtrigaud_image
short_description: Prepare a VM image on a VirtualMachine provider, as VirtRigaud's VMImage does
version_added: 0.2.0
description:
  - Brings an image onto a backend under a name, once; a VM's O(virtrigaud.core.virtrigaud_vm#module:image) then
    names it.
  - With libvirt, the image is downloaded (or read from a file) where the module runs, verified against its
    checksum, converted with C(qemu-img) when asked, and uploaded into a storage pool as a volume named O(name).
  - An interrupted download is resumed with an HTTP byte range, by the next attempt (see O(retries)) or by the
    next run. A file that fails its checksum is removed, and no volume is made.
  - With Proxmox VE, O(url) is downloaded by a node of the cluster itself (PVE's C(download-url)) into the
    storage O(storage) (default C(local)), and the node checks O(checksum). O(name) is the file's name, and its
    extension picks PVE's content type (C(.iso) and C(.img) ISO images; C(.qcow2), C(.raw), C(.vmdk) and C(.ova)
    disk images to import). A file of that name already there is the image, unless its size differs from what
    the URL announces, which is refused. O(path) and O(format) are refused by name.
  - With vSphere, O(url) or O(path) is an OVA, fetched and verified where the module runs, then deployed through
    vCenter's ImportVApp (the disks uploaded to the import lease) and marked as a template named O(name).
    A template of that name already there is the image. O(format) is refused by name.
  - With KubeVirt, the image is a CDI C(DataVolume) named O(name) in the connection's namespace, which imports
    O(url) (an C(http://) or C(https://) URL, or a registry image as C(docker://REGISTRY/NAME:TAG)) into a PVC of
    the same name, of O(size), in the StorageClass O(storage) (default the connection's O(default_datastore), else
    the cluster's default). The module waits until CDI reports the DataVolume C(Succeeded), with a progress line
    from its C(status.progress); an import that CDI's importer fails more often than O(retries) (a 404, a
    connection refused) is reported with CDI's message, and the DataVolume and its PVC are removed. A DataVolume of
    that name importing another URL is refused; a PVC of that name without one is the image.
    A VM's O(virtrigaud.core.virtrigaud_vm#module:image) then names the PVC, and its root disk is cloned from it.
    O(checksum) (CDI's http source has none), O(path) and O(format) (CDI stores the disk raw) are refused by name.
  - With KubeVirt, O(state=present) returns only once the image is usable. A DataVolume of that name found before
    CDI finished (another task's import, or one a killed run left) is waited for as a fresh import is, and the
    run reports no change, as it made nothing; in check mode nothing is waited for, RV(image.phase) is
    V(Importing) and a warning says the image is not usable yet. One found failed (by the same O(retries) rule)
    fails the task, in check mode too, with CDI's message naming the DataVolume, and is left as it is for you to
    inspect, unlike an import the task itself started (this task did not start it, and another may still be
    waiting for it); remove it with O(state=absent) to import it again.
  - With Proxmox VE and vSphere, O(template) names a template the backend holds already; the module reports it
    and changes nothing. Importing from O(url) or O(path) is refused by name on every backend whose capabilities
    do not include image import (C(supports_image_import)).
  - The same code answers the ImagePrepare call of the collection's provider runtime.
author:
  - virtrigaud.core contributors (@virtrigaud)
extends_documentation_fragment:
  - virtrigaud.core.connection
  - virtrigaud.core.kubernetes
  - virtrigaud.core.kubernetes.unused
  - virtrigaud.core.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
    description: When run twice with the same options, the second run reports no change.
options:
  name:
    description:
      - The image's name on the backend; with libvirt, the volume's name, such as V(debian-12.qcow2).
      - An image of that name already there counts as prepared, whatever its source was.
      - Required unless O(definition) gives it.
    type: str
  definition:
    description:
      - The image as an upstream VirtRigaud C(VMImage) manifest (C(infra.virtrigaud.io/v1beta1)), the document
        C(kubectl apply) would take - a mapping, a list holding one VMImage, or YAML text - prepared directly on
        the backend that the connection options name, under C(metadata.name).
      - C(spec.source.libvirt) (C(url) or C(path), C(checksum) with C(checksumType), C(format), C(storagePool)),
        C(spec.source.http) (C(url), C(checksum), C(checksumType)), C(spec.source.registry.image) (KubeVirt),
        C(spec.source.vsphere.templateName) and
        C(spec.source.proxmox) (C(templateName) or C(templateID), C(storage)) are carried out, with
        C(spec.prepare.retries) and C(spec.prepare.storage.libvirt.storagePool). Any other field is refused by name
        unless it holds its schema default.
      - It is checked against the CRD's schema first, naming the field the API server would refuse; an unquoted
        V(yes)/V(no)/V(On)/V(Off) where a string is wanted (YAML 1.1 reads it as a boolean) is refused with the
        quoting that keeps it a string.
      - Refused together with O(name), O(url), O(path), O(template), O(checksum), O(format), O(storage) or
        O(retries), which it replaces.
    type: raw
    version_added: 0.2.0
  state:
    description:
      - V(present) prepares the image unless it is there.
      - V(absent) removes it. With libvirt, an image that a VM's disk reads from is refused.
    type: str
    choices: [present, absent]
    default: present
  url:
    description: An C(http://) or C(https://) URL to download the image from.
    type: str
  path:
    description: A file on the machine the module runs on.
    type: path
  template:
    description:
      - A template the backend holds already, by name (or, with Proxmox VE, by VMID).
    type: str
  checksum:
    description:
      - The image's checksum as V(ALGORITHM:HEX), ALGORITHM one of V(md5), V(sha1), V(sha256), V(sha512), as
        M(ansible.builtin.get_url) takes it. It is checked on the bytes fetched, before any conversion.
    type: str
  format:
    description:
      - The format to store the image in; converted with C(qemu-img) (Debian package C(qemu-utils)) when the
        source's format differs. Unset keeps the source's format.
    type: str
    choices: [qcow2, raw, vmdk]
  storage:
    description:
      - The storage pool (libvirt) to put the image in; defaults to the provider's default datastore.
      - With Proxmox VE, the storage the node downloads into (a file-based one); defaults to V(local).
      - With vSphere, the datastore of the template; defaults to the provider's default datastore.
    type: str
  size:
    description:
      - With KubeVirt, the size of the PVC the image is imported into, as a quantity such as V(2Gi); at least the
        image's virtual disk size. Required there to import, and refused by name on other backends.
      - Allowed beside O(definition), as a VMImage has no such field.
    type: str
    version_added: 0.2.0
  retries:
    description:
      - How often an interrupted download is resumed within this run, from 0 to 10.
      - With KubeVirt, how often CDI's importer may fail and restart before the import counts as failed.
    type: int
    default: 3
  download_dir:
    description:
      - Where downloads are kept until they are complete, so a later run resumes them. Defaults to
        C(virtrigaud-images) in the system's temporary folder.
    type: path
seealso:
  - module: virtrigaud.core.virtrigaud_vm
"""

EXAMPLES = r"""
- name: An image from the VMImage manifest you would give kubectl
  virtrigaud.core.virtrigaud_image:
    definition: |
      apiVersion: infra.virtrigaud.io/v1beta1
      kind: VMImage
      metadata: {name: debian-12.qcow2}
      spec:
        source:
          libvirt:
            url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2
            checksum: "{{ debian_12_sha512 }}"
            checksumType: sha512

- name: Debian's cloud image, verified, in the default pool
  virtrigaud.core.virtrigaud_image:
    provider_type: libvirt
    uri: qemu:///system
    name: debian-12.qcow2
    url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2
    checksum: "sha512:{{ debian_sha512 }}"

- name: A raw image stored as qcow2
  virtrigaud.core.virtrigaud_image:
    name: appliance.qcow2
    path: /srv/images/appliance.img
    format: qcow2

- name: A disk image that a Proxmox VE node downloads into storage 'local'
  virtrigaud.core.virtrigaud_image:
    provider_type: proxmox
    name: debian-12.qcow2
    url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2
    checksum: "sha512:{{ debian_sha512 }}"
    storage: local

- name: An OVA deployed to a vSphere template
  virtrigaud.core.virtrigaud_image:
    provider_type: vsphere
    name: appliance
    url: https://images.example.com/appliance.ova
    checksum: "sha256:{{ appliance_sha256 }}"

- name: A DataVolume that CDI imports into a 2 GiB PVC, which a KubeVirt VM's image then names
  virtrigaud.core.virtrigaud_image:
    provider_type: kubevirt
    namespace: vms
    name: debian-12
    url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2
    size: 3Gi
    storage: standard

- name: A Proxmox VE template, checked for
  virtrigaud.core.virtrigaud_image:
    provider_type: proxmox
    name: ubuntu
    template: "9000"
"""

RETURN = r"""
image:
  description:
    - The image after the run (before it, in check mode); null when absent.
    - RV(image.phase) is V(Ready) when a VM can use the image. With KubeVirt, check mode can find it V(Importing)
      (CDI still imports it), RV(image.message) then saying how far it got.
  returned: always
  type: dict
  contains:
    phase:
      description: V(Ready) when a VM can use the image; with KubeVirt, V(Importing) while CDI still imports it.
      type: str
      returned: always
    message:
      description: How far CDI got, while RV(image.phase) is V(Importing); empty otherwise.
      type: str
      returned: always
  sample: {name: debian-12.qcow2, id: debian-12.qcow2, path: /var/lib/libvirt/images/debian-12.qcow2,
           format: qcow2, size_bytes: 2147483648, storage: default, phase: Ready, message: ""}
transfer:
  description: What was fetched, when the run fetched bytes; RV(transfer.resumed_from) is where an interrupted download
    went on from.
  returned: when an image was fetched
  type: dict
  contains:
    size_bytes: {description: The size of the file imported., type: int, returned: always}
    format: {description: The format imported., type: str, returned: always}
    resumed_from: {description: The byte the download went on from; 0 for a whole download., type: int,
                   returned: always}
    converted_from: {description: The source's format when it was converted; null otherwise., type: str,
                     returned: always}
  sample: {size_bytes: 356515840, format: qcow2, resumed_from: 0, converted_from: null}
progress:
  description: Progress lines of a long download, at most one each 10 seconds, or of an import found in flight
    that the run waited for.
  returned: always
  type: list
  elements: str
changes:
  description: The actions taken (predicted, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{action: image_prepare, target: debian-12.qcow2, old: null, new: present}]
"""

from typing import Any

from ansible_collections.virtrigaud.core.plugins.module_utils.argspec import group_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.errors import UnsupportedError
from ansible_collections.virtrigaud.core.plugins.module_utils.image_transfer import Transfer
from ansible_collections.virtrigaud.core.plugins.module_utils.images import (
    IMAGE_FORMATS,
    check_import_options,
    not_ready,
    parse_image,
)
from ansible_collections.virtrigaud.core.plugins.module_utils.kube.kind_documents import image_spec
from ansible_collections.virtrigaud.core.plugins.module_utils.module import VirtrigaudModule, VirtrigaudRun
from ansible_collections.virtrigaud.core.plugins.module_utils.planner import plan_image


def run(m: VirtrigaudRun) -> dict[str, Any]:
    p = m.params
    spec = image_spec(p["definition"], p["size"]) if p["definition"] is not None else parse_image(p)
    capabilities = m.provider.capabilities()
    if spec.imports and p["state"] == "present":
        if not capabilities.supports_image_import:
            raise UnsupportedError("the %s backend does not import images; name one it holds with template"
                                   % m.provider.type_name, option=spec.source_option)
        check_import_options(spec, capabilities.image_import_options, m.provider.type_name)
    observed = m.provider.find_image(spec)
    the_plan = plan_image(p["state"], spec, observed)
    image = observed.to_dict() if observed else None
    result: dict[str, Any] = {"changed": the_plan.changed, "changes": [a.to_dict() for a in the_plan.actions],
                              "progress": []}
    # An import found in flight (another task's, or a killed run's) is waited for, but is no change of this run.
    importing = observed if p["state"] == "present" and observed is not None and not observed.ready else None
    if importing is not None and m.check_mode:
        m.warn(not_ready(importing))
    elif the_plan.changed and not m.check_mode and observed is not None:
        m.provider.delete_image(observed)
        image = None
    elif (the_plan.changed or importing is not None) and not m.check_mode:
        transfer = Transfer(result["progress"].append, p["download_dir"], run_command=m.run_command)
        image = m.provider.prepare_image(spec, transfer).to_dict()
        if transfer.fetched is not None:
            result["transfer"] = transfer.fetched.report()
    result["image"] = image
    if m.diff_mode:
        result["diff"] = the_plan.diff
    return result


# The options a definition replaces: given beside one, they are refused by name.
REPLACED = ("name", "url", "path", "template", "checksum", "format", "storage", "retries")
OPTION_RULES: dict[str, Any] = {"required_one_of": [["name", "definition"]],
                                "mutually_exclusive": [["url", "path", "template"]]
                                + [["definition", option] for option in REPLACED]}


def argument_spec() -> dict[str, Any]:
    return {
        **group_spec(),
        "name": {"type": "str"},
        "definition": {"type": "raw"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "url": {"type": "str"},
        "path": {"type": "path"},
        "template": {"type": "str"},
        "checksum": {"type": "str"},
        "format": {"type": "str", "choices": list(IMAGE_FORMATS)},
        "storage": {"type": "str"},
        "retries": {"type": "int", "default": 3},
        "size": {"type": "str"},
        "download_dir": {"type": "path"},
    }


def main() -> None:
    VirtrigaudModule(argument_spec(), supports_check_mode=True, **OPTION_RULES).execute(run)


if __name__ == "__main__":
    main()
