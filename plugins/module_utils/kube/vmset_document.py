# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virtrigaud_vmset's options from a VMSet manifest (pure: no I/O).

The manifest is upstream's ``VMSet``.  Its template is a ``VirtualMachine`` spec, read as
:mod:`.vm_document` reads one, with the class, image, network attachments and placement policy given beside it.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError
from ..placing import POLICY_RESOURCE
from .manifests import OPTION, by_kind, load, name_of, only, part, validate
from .vm_document import vm_options

KINDS = ("VMSet", "VMClass", "VMImage", "VMNetworkAttachment", "VMPlacementPolicy")


def set_options(definition: Any) -> dict[str, Any]:
    """The VMSet's name, replicas, ordinals, strategy, labels and template, in virtrigaud_vmset's option names."""
    documents = load(definition)
    validate(documents, KINDS)
    document = only(documents, "VMSet")
    name, spec = name_of(document), part(document.get("spec"), "spec")
    if spec.get("template") is None:
        raise SpecError("the VMSet '%s' has no spec.template (upstream's schema requires one)" % name, option=OPTION)
    template = part(spec["template"], "spec.template")
    labels = dict(part(part(spec.get("selector"), "spec.selector").get("matchLabels"), "spec.selector.matchLabels"))
    labels.update(part(part(template.get("metadata"), "spec.template.metadata").get("labels"),
                       "spec.template.metadata.labels"))
    strategy = part(spec.get("updateStrategy"), "spec.updateStrategy")
    rolling = part(strategy.get("rollingUpdate"), "spec.updateStrategy.rollingUpdate")
    template_options = vm_options(by_kind(documents), part(template.get("spec"), "spec.template.spec"),
                                  "the VMSet's spec.template.spec")
    policy = template_options.pop(POLICY_RESOURCE, None)
    return {
        **({POLICY_RESOURCE: policy} if policy is not None else {}),
        "name": name,
        "replicas": spec.get("replicas", 1),
        "ordinals": {"start": part(spec.get("ordinals"), "spec.ordinals").get("start", 0)},
        "labels": labels,
        "update_strategy": {"type": strategy.get("type") or "RollingUpdate",
                            "rolling_update": {"max_unavailable": rolling.get("maxUnavailable", "25%"),
                                               "max_surge": rolling.get("maxSurge", "25%"),
                                               "partition": rolling.get("partition", 0)}},
        "min_ready_seconds": spec.get("minReadySeconds", 0),
        "template": template_options,
    }
