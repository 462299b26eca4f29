#!/usr/bin/env python3
"""Generate crates/protobuf/src/schema.rs, the wire schema rkube-protobuf decodes with.

Two crates in the local cargo registry are the sources, no upstream .proto file is read:

* k8s-pb 0.9.0 (prost output for every Kubernetes API message) gives message names, field
  tags and wire kinds (`#[prost(string, optional, tag = "1")]`, maps, repeated, nested types).
* k8s-openapi 0.29.0 (`src/v1_33`) gives the exact JSON field names (its deserializers list
  `"clusterIP" => Field::Key_cluster_ip`), which fields are required (not `Option`), and the
  apiVersion/kind of every top-level kind (`impl crate::Resource`).

Go writes every non-pointer field of an API struct into protobuf, zero or not, while its
JSON encoder drops zero `omitempty` fields. To give the JSON a Go client would have sent, the
decoder drops present zero scalars of omitempty fields, except fields that are pointers in Go
(their zero means something: `replicas: 0`, `automountServiceAccountToken: false`,
`storageClassName: ""`). Neither source knows Go pointers, so the pointer fields are listed
below (POINTERS) by hand, checked against the schema when generating.

Usage: python3 tools/gen_protobuf_schema.py [--registry DIR]   (run from the repo root)
"""

import argparse
import glob
import os
import re
import sys

PB_VERSION = "k8s-pb-0.9.0"
OPENAPI_VERSION = "k8s-openapi-0.29.0"

# apiVersions whose kinds are decodable at the top level (served by rkube).
SERVED_API_VERSIONS = {
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
    "discovery.k8s.io/v1",
    "coordination.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "storage.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "events.k8s.io/v1",
    "certificates.k8s.io/v1",
    "node.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
    "authorization.k8s.io/v1",
    "authentication.k8s.io/v1",
}

# Extra top-level messages that have no `impl Resource` in k8s-openapi but are request
# bodies (DeleteOptions is registered in every group version; the decoder looks it up by
# kind alone).
EXTRA_ROOTS = ["k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"]

# Messages whose JSON form is not the plain object of their fields.
SPECIALS = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "RawJson",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON": "RawJson",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": "SchemaOrArray",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": "SchemaOrBool",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": "SchemaOrStringArray",
}

PKG_ALIASES = {
    "meta/v1": "k8s.io.apimachinery.pkg.apis.meta.v1",
    "apiextensions/v1": "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1",
}

# Scalar fields that are pointers in the Go API types: a present zero value is kept.
# Format: "<group>/<version> <Message>: <jsonName> ...". <group> is the k8s.io/api package
# directory (core, apps, ...), or an alias above. Doubles are always treated as pointers.
POINTERS = """
meta/v1 ObjectMeta: deletionGracePeriodSeconds
meta/v1 ListMeta: remainingItemCount
meta/v1 OwnerReference: controller blockOwnerDeletion
meta/v1 DeleteOptions: gracePeriodSeconds orphanDependents propagationPolicy ignoreStoreReadErrorWithClusterBreakingPotential
meta/v1 Preconditions: uid resourceVersion

core/v1 SecretVolumeSource: defaultMode optional
core/v1 ConfigMapVolumeSource: defaultMode optional
core/v1 ProjectedVolumeSource: defaultMode
core/v1 DownwardAPIVolumeSource: defaultMode
core/v1 DownwardAPIVolumeFile: mode
core/v1 KeyToPath: mode
core/v1 SecretProjection: optional
core/v1 ConfigMapProjection: optional
core/v1 ServiceAccountTokenProjection: expirationSeconds
core/v1 ClusterTrustBundleProjection: name signerName optional
core/v1 CSIVolumeSource: readOnly fsType
core/v1 ISCSIVolumeSource: initiatorName
core/v1 ISCSIPersistentVolumeSource: initiatorName
core/v1 FCVolumeSource: lun
core/v1 HostPathVolumeSource: type
core/v1 AzureDiskVolumeSource: cachingMode fsType readOnly kind
core/v1 AzureFilePersistentVolumeSource: secretNamespace
core/v1 LocalVolumeSource: fsType
core/v1 GlusterfsPersistentVolumeSource: endpointsNamespace
core/v1 PersistentVolumeClaimSpec: storageClassName volumeMode volumeAttributesClassName
core/v1 PersistentVolumeClaimStatus: currentVolumeAttributesClassName
core/v1 PersistentVolumeSpec: volumeMode volumeAttributesClassName
core/v1 ModifyVolumeStatus: targetVolumeAttributesClassName
core/v1 Container: restartPolicy
core/v1 EphemeralContainerCommon: restartPolicy
core/v1 ConfigMapKeySelector: optional
core/v1 SecretKeySelector: optional
core/v1 ConfigMapEnvSource: optional
core/v1 SecretEnvSource: optional
core/v1 Probe: terminationGracePeriodSeconds
core/v1 GRPCAction: service
core/v1 Lifecycle: stopSignal
core/v1 SecurityContext: privileged runAsUser runAsGroup runAsNonRoot readOnlyRootFilesystem allowPrivilegeEscalation procMount
core/v1 PodSecurityContext: runAsUser runAsGroup runAsNonRoot supplementalGroupsPolicy fsGroup fsGroupChangePolicy seLinuxChangePolicy
core/v1 SeccompProfile: localhostProfile
core/v1 AppArmorProfile: localhostProfile
core/v1 WindowsSecurityContextOptions: gmsaCredentialSpecName gmsaCredentialSpec runAsUserName hostProcess
core/v1 PodSpec: terminationGracePeriodSeconds activeDeadlineSeconds automountServiceAccountToken shareProcessNamespace priority enableServiceLinks preemptionPolicy runtimeClassName setHostnameAsFQDN hostUsers
core/v1 Toleration: tolerationSeconds
core/v1 TopologySpreadConstraint: minDomains nodeAffinityPolicy nodeTaintsPolicy
core/v1 PodResourceClaim: resourceClaimName resourceClaimTemplateName
core/v1 PodDNSConfigOption: value
core/v1 ContainerStatus: started stopSignal
core/v1 ServiceSpec: allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy ipFamilyPolicy trafficDistribution
core/v1 ClientIPConfig: timeoutSeconds
core/v1 ServicePort: appProtocol
core/v1 LoadBalancerIngress: ipMode
core/v1 PortStatus: error
core/v1 EndpointPort: appProtocol
core/v1 EndpointAddress: nodeName
core/v1 ConfigMap: immutable
core/v1 Secret: immutable
core/v1 ServiceAccount: automountServiceAccountToken
core/v1 ReplicationControllerSpec: replicas
core/v1 TypedLocalObjectReference: apiGroup
core/v1 TypedObjectReference: apiGroup namespace
core/v1 VolumeMount: recursiveReadOnly mountPropagation
core/v1 NodeSwapStatus: capacity
core/v1 NodeFeatures: supplementalGroupsPolicy
core/v1 NodeRuntimeHandlerFeatures: recursiveReadOnlyMounts userNamespaces
core/v1 LinuxContainerUser: uid gid

apps/v1 DeploymentSpec: replicas revisionHistoryLimit progressDeadlineSeconds
apps/v1 DeploymentStatus: collisionCount terminatingReplicas
apps/v1 StatefulSetSpec: replicas revisionHistoryLimit
apps/v1 StatefulSetStatus: collisionCount
apps/v1 RollingUpdateStatefulSetStrategy: partition
apps/v1 DaemonSetSpec: revisionHistoryLimit
apps/v1 DaemonSetStatus: collisionCount
apps/v1 ReplicaSetSpec: replicas
apps/v1 ReplicaSetStatus: terminatingReplicas

batch/v1 JobSpec: parallelism completions activeDeadlineSeconds backoffLimit backoffLimitPerIndex maxFailedIndexes manualSelector ttlSecondsAfterFinished completionMode suspend podReplacementPolicy managedBy
batch/v1 JobStatus: ready terminating failedIndexes
batch/v1 PodFailurePolicyOnExitCodesRequirement: containerName
batch/v1 SuccessPolicyRule: succeededIndexes succeededCount
batch/v1 CronJobSpec: timeZone startingDeadlineSeconds suspend successfulJobsHistoryLimit failedJobsHistoryLimit

autoscaling/v1 HorizontalPodAutoscalerSpec: minReplicas targetCPUUtilizationPercentage
autoscaling/v1 HorizontalPodAutoscalerStatus: observedGeneration currentCPUUtilizationPercentage
autoscaling/v2 HorizontalPodAutoscalerSpec: minReplicas
autoscaling/v2 HorizontalPodAutoscalerStatus: observedGeneration
autoscaling/v2 HPAScalingRules: stabilizationWindowSeconds selectPolicy
autoscaling/v2 MetricTarget: averageUtilization
autoscaling/v2 MetricValueStatus: averageUtilization

policy/v1 PodDisruptionBudgetSpec: unhealthyPodEvictionPolicy

networking/v1 NetworkPolicyPort: protocol endPort
networking/v1 IngressSpec: ingressClassName
networking/v1 HTTPIngressPath: pathType
networking/v1 IngressClassParametersReference: apiGroup scope namespace
networking/v1 IngressPortStatus: error

discovery/v1 Endpoint: hostname nodeName zone
discovery/v1 EndpointConditions: ready serving terminating
discovery/v1 EndpointPort: name protocol port appProtocol

coordination/v1 LeaseSpec: holderIdentity leaseDurationSeconds leaseTransitions strategy preferredHolder

storage/v1 StorageClass: reclaimPolicy allowVolumeExpansion volumeBindingMode
storage/v1 CSIDriverSpec: attachRequired podInfoOnMount storageCapacity fsGroupPolicy requiresRepublish seLinuxMount nodeAllocatableUpdatePeriodSeconds
storage/v1 VolumeNodeResources: count
storage/v1 VolumeAttachmentSource: persistentVolumeName
storage/v1 VolumeError: errorCode
storage/v1 TokenRequest: expirationSeconds

scheduling/v1 PriorityClass: preemptionPolicy

certificates/v1 CertificateSigningRequestSpec: expirationSeconds


admissionregistration/v1 ValidatingWebhook: failurePolicy matchPolicy sideEffects timeoutSeconds
admissionregistration/v1 MutatingWebhook: failurePolicy matchPolicy sideEffects timeoutSeconds reinvocationPolicy
admissionregistration/v1 WebhookClientConfig: url
admissionregistration/v1 ServiceReference: path port
admissionregistration/v1 Rule: scope
admissionregistration/v1 ValidatingAdmissionPolicySpec: failurePolicy
admissionregistration/v1 Validation: reason
admissionregistration/v1 ParamRef: parameterNotFoundAction
admissionregistration/v1 MatchResources: matchPolicy

apiextensions/v1 CustomResourceDefinitionVersion: deprecationWarning
apiextensions/v1 CustomResourceSubresourceScale: labelSelectorPath
apiextensions/v1 WebhookClientConfig: url
apiextensions/v1 ServiceReference: path port
apiextensions/v1 JSONSchemaProps: $ref maxLength minLength maxItems minItems maxProperties minProperties x-kubernetes-preserve-unknown-fields x-kubernetes-list-type x-kubernetes-map-type
apiextensions/v1 ValidationRule: reason optionalOldSelf

flowcontrol/v1 LimitedPriorityLevelConfiguration: nominalConcurrencyShares lendablePercent borrowingLimitPercent
flowcontrol/v1 ExemptPriorityLevelConfiguration: nominalConcurrencyShares lendablePercent

authentication/v1 TokenRequestSpec: expirationSeconds
"""


def pkg_for(spec):
    if spec in PKG_ALIASES:
        return PKG_ALIASES[spec]
    group, version = spec.split("/")
    return f"k8s.io.api.{group}.{version}"


def norm(name):
    """Key under which prost names and JSON names meet: letters and digits, lower case."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


# ---------------------------------------------------------------------------------------
# k8s-pb


def parse_pb(root):
    """Return {full message name: [field dict]} and {lower(name) per package: full name}."""
    messages = {}
    for path in sorted(glob.glob(os.path.join(root, "src", "**", "mod.rs"), recursive=True)):
        rel = os.path.relpath(os.path.dirname(path), os.path.join(root, "src"))
        if rel == ".":
            continue
        modpath = rel.split(os.sep)
        package = "k8s.io." + ".".join(modpath)
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        current = None
        while i < len(lines):
            line = lines[i].strip()
            m = re.match(r"pub struct (\w+) \{", line)
            if m:
                current = []
                messages[(package, m.group(1))] = {"modpath": modpath, "fields": current}
                i += 1
                continue
            if line.startswith("#[prost(") and current is not None and "oneof" not in line:
                attr = line[len("#[prost(") : -2]
                decl = ""
                i += 1
                while True:
                    decl += lines[i].strip()
                    if decl.endswith(",") and decl.count("<") == decl.count(">"):
                        break
                    i += 1
                decl = decl.replace(",>", ">")
                m = re.match(r"pub (?:r#)?(\w+):\s*(.*),$", decl)
                if not m:
                    sys.exit(f"cannot parse field in {path}: {decl}")
                current.append(parse_field(attr, m.group(1), m.group(2)))
            elif line == "}":
                current = None
            i += 1
    return messages


def parse_field(attr, name, rust_type):
    tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
    field = {"tag": tag, "name": name, "repeated": ", repeated" in attr}
    m = re.match(r'btree_map = "(\w+), (\w+)"', attr)
    if m:
        if m.group(1) != "string":
            sys.exit(f"unsupported map key {attr}")
        field["kind"] = "map"
        field["value"] = m.group(2)
        if m.group(2) == "message":
            inner = rust_type[rust_type.index("<") + 1 : rust_type.rindex(">")]
            field["type"] = inner.split(",", 1)[1].strip().rstrip(",").strip()
        return field
    kind = attr.split(",")[0].strip()
    if kind.startswith("bytes"):
        kind = "bytes"
    field["kind"] = kind
    if kind == "message":
        t = rust_type
        for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
            while t.startswith(wrapper):
                t = t[len(wrapper) : -1]
        field["type"] = t
    return field


def resolve(modpath, rust_type):
    parts = rust_type.split("::")
    path = list(modpath)
    if len(parts) == 1:
        return ("k8s.io." + ".".join(path), parts[0])
    while parts and parts[0] == "super":
        path.pop()
        parts.pop(0)
    return ("k8s.io." + ".".join(path + parts[:-1]), parts[-1])


# ---------------------------------------------------------------------------------------
# k8s-openapi


def parse_openapi(root):
    """Return ({(package, lower struct name): {norm json: (json, required)}}, [(apiVersion, kind, package, struct)])."""
    base = os.path.join(root, "src", "v1_33")
    structs = {}
    resources = []
    for path in sorted(glob.glob(os.path.join(base, "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(os.path.dirname(path), base)
        if rel == ".":
            continue
        package = "k8s.io." + ".".join(rel.split(os.sep))
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"pub struct (\w+) \{\n(.*?)\n\}", text, re.S):
            name = m.group(1)
            rust_fields = {}
            for fm in re.finditer(r"^    pub (?:r#)?(\w+): (.*),$", m.group(2), re.M):
                rust_fields[fm.group(1)] = fm.group(2)
            json_names = {}
            for jm in re.finditer(r'"([^"]+)" => Field::Key_(\w+),', text):
                rust = jm.group(2)
                if rust in rust_fields:
                    json_names[norm(jm.group(1))] = (jm.group(1), not rust_fields[rust].startswith("Option<"))
            if json_names:
                structs[(package, name.lower())] = json_names
        for m in re.finditer(
            r"impl crate::Resource for (\w+) \{\s*const API_VERSION: &'static str = \"([^\"]+)\";.*?const KIND: &'static str = \"([^\"]+)\";",
            text,
            re.S,
        ):
            resources.append((m.group(2), m.group(3), package, m.group(1)))
    return structs, resources


# ---------------------------------------------------------------------------------------


def inlined(pb, structs, target, parent_json):
    """Whether every field of message `target` appears among the parent's JSON fields."""
    fields = pb[target]["fields"]
    own = structs.get(target, {})
    return bool(fields) and all(norm(f["name"]) in parent_json or norm(f["name"]) not in own for f in fields) and any(
        norm(f["name"]) in parent_json for f in fields
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--registry", default=None, help="cargo registry src dir holding the two crates")
    ap.add_argument("--out", default="crates/protobuf/src/schema.rs")
    args = ap.parse_args()
    registry = args.registry
    if registry is None:
        cargo_home = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
        cands = glob.glob(os.path.join(cargo_home, "registry", "src", "*", PB_VERSION))
        if not cands:
            sys.exit(f"{PB_VERSION} not in the cargo registry: run `cargo fetch` for rkube-protobuf's dev-dependencies")
        registry = os.path.dirname(cands[0])
    pb = parse_pb(os.path.join(registry, PB_VERSION))
    structs, resources = parse_openapi(os.path.join(registry, OPENAPI_VERSION))

    # Case-insensitive lookup of pb messages: prost writes `JsonSchemaProps`, the canonical
    # name (used in SPECIALS and the schema) is k8s-openapi's `JSONSchemaProps` when known.
    pb_by_lower = {(pkg, name.lower()): (pkg, name) for (pkg, name) in pb}
    canonical = {}
    openapi_names = {}
    for path in glob.glob(os.path.join(registry, OPENAPI_VERSION, "src", "v1_33", "**", "*.rs"), recursive=True):
        rel = os.path.relpath(os.path.dirname(path), os.path.join(registry, OPENAPI_VERSION, "src", "v1_33"))
        package = "k8s.io." + ".".join(rel.split(os.sep))
        for m in re.finditer(r"^pub (?:struct|enum) (\w+)", open(path, encoding="utf-8").read(), re.M):
            openapi_names[(package, m.group(1).lower())] = m.group(1)
    for key in pb:
        pkg, name = key
        canonical[key] = pkg + "." + openapi_names.get((pkg, name.lower()), name)

    roots = []
    kinds = []
    for api_version, kind, package, struct in resources:
        if api_version not in SERVED_API_VERSIONS:
            continue
        key = pb_by_lower.get((package, struct.lower()))
        if key is None:
            print(f"note: no protobuf message for {api_version} {kind}", file=sys.stderr)
            continue
        kinds.append((api_version, kind, canonical[key]))
        roots.append(key)
    for full in EXTRA_ROOTS:
        pkg, name = full.rsplit(".", 1)
        roots.append(pb_by_lower[(pkg, name.lower())])

    # Reachable messages, breadth first, in a stable order.
    order = []
    seen = set()
    queue = sorted(set(roots), key=lambda k: canonical[k])
    while queue:
        key = queue.pop(0)
        if key in seen:
            continue
        seen.add(key)
        order.append(key)
        msg = pb[key]
        for f in msg["fields"]:
            if "type" in f:
                target = resolve(msg["modpath"], f["type"])
                tkey = pb_by_lower.get((target[0], target[1].lower()))
                if tkey is None:
                    sys.exit(f"unresolved type {f['type']} in {key}")
                f["target"] = tkey
                if tkey not in seen:
                    queue.append(tkey)
    order.sort(key=lambda k: canonical[k])
    index = {key: i for i, key in enumerate(order)}

    # Pointer list, checked.
    pointers = {}
    for line in POINTERS.strip().split("\n"):
        line = line.strip()
        if not line:
            continue
        head, names = line.split(":", 1)
        spec, msg = head.split()
        full = pkg_for(spec) + "." + msg
        pointers.setdefault(full.lower(), set()).update(names.split())
    used_pointers = set()

    # JSON names per message: k8s-openapi's, or for a message that only exists inlined into
    # another (VolumeSource in Volume, PersistentVolumeSource in PersistentVolumeSpec), the
    # parent's, found by walking inlined fields until nothing changes.
    names = {key: structs.get((key[0], key[1].lower()), {}) for key in order}
    inline_fields = set()
    changed = True
    while changed:
        changed = False
        for key in order:
            if not names[key]:
                continue
            for fdef in pb[key]["fields"]:
                if fdef["kind"] != "message" or norm(fdef["name"]) in names[key]:
                    continue
                if (key, fdef["tag"]) in inline_fields:
                    continue
                if inlined(pb, names, fdef["target"], names[key]):
                    inline_fields.add((key, fdef["tag"]))
                    merged = dict(names[key])
                    merged.update(names[fdef["target"]])
                    names[fdef["target"]] = merged
                    changed = True

    unmatched = []
    out = []
    out.append("// @generated by tools/gen_protobuf_schema.py from k8s-pb 0.9.0 and k8s-openapi 0.29.0 (v1_33).")
    out.append("// Do not edit: change the generator and run it again.")
    out.append("")
    out.append("use crate::wire::{Field, Kind, Message, Special};")
    out.append("use Kind::*;")
    out.append("")
    out.append("const fn f(tag: u32, json: &'static str, kind: Kind, repeated: bool, omit_zero: bool) -> Field {")
    out.append("    Field { tag, json, kind, repeated, omit_zero, inline: false }")
    out.append("}")
    out.append("")
    out.append("const fn inline(tag: u32, message: u16) -> Field {")
    out.append('    Field { tag, json: "", kind: Message(message), repeated: false, omit_zero: false, inline: true }')
    out.append("}")
    out.append("")
    out.append("/// Every message reachable from a served kind, sorted by full name; `Message(i)` indexes it.")
    out.append("pub static MESSAGES: &[Message] = &[")
    for key in order:
        full = canonical[key]
        pkg = key[0]
        special = SPECIALS.get(full, "None")
        if full.endswith(".ExtraValue") or full == "k8s.io.apimachinery.pkg.apis.meta.v1.Verbs":
            # Go `type ExtraValue []string`: a message of one repeated string in protobuf.
            special = "StringList"
        json_names = names[key]
        ptrs = pointers.get(full.lower(), set())
        out.append(f"    // {index[key]}")
        out.append(f'    Message {{ name: "{full}", special: Special::{special}, fields: &[')
        for fdef in sorted(pb[key]["fields"], key=lambda f: f["tag"]):
            n = norm(fdef["name"])
            inline = False
            known = n in json_names
            if known:
                json, required = json_names[n]
            elif (key, fdef["tag"]) in inline_fields:
                # A Go struct embedded with `json:",inline"`: its own message in protobuf, its
                # fields merged into the parent in JSON (Volume's VolumeSource, Probe's handler).
                json, required, inline = "", True, True
            else:
                json = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), fdef["name"])
                required = False
                if special == "None":
                    unmatched.append(f"{full}.{fdef['name']} -> {json}")
            k = fdef["kind"]
            if k == "map":
                v = fdef["value"]
                kind = {"string": "MapString", "bytes": "MapBytes"}.get(v) or f"MapMessage({index[fdef['target']]})"
            elif k == "message":
                kind = f"Message({index[fdef['target']]})"
            else:
                kind = {
                    "string": "String",
                    "bytes": "Bytes",
                    "bool": "Bool",
                    "int32": "Int32",
                    "int64": "Int64",
                    "double": "Double",
                }[k]
            scalar = k in ("string", "bytes", "bool", "int32", "int64")
            is_pointer = json in ptrs
            if is_pointer:
                used_pointers.add((full.lower(), json))
            omit_zero = (
                scalar
                and not fdef["repeated"]
                and not required
                and not is_pointer
                and special == "None"
                and known
            )
            out.append(
                f'        f({fdef["tag"]}, "{json}", {kind}, {str(fdef["repeated"]).lower()}, {str(omit_zero).lower()}),'
                if not inline
                else f'        inline({fdef["tag"]}, {index[fdef["target"]]}),'
            )
        out.append("    ]},")
    out.append("];")
    out.append("")
    out.append("/// (apiVersion, kind, message index) of every top-level kind, sorted for binary search.")
    out.append("pub static KINDS: &[(&str, &str, u16)] = &[")
    name_index = {canonical[k]: i for k, i in index.items()}
    for api_version, kind, full in sorted(set(kinds)):
        out.append(f'    ("{api_version}", "{kind}", {name_index[full]}),')
    out.append("];")
    out.append("")
    out.append("/// Index of meta/v1 DeleteOptions, which every group version registers under its own apiVersion.")
    out.append(f"pub const DELETE_OPTIONS: u16 = {name_index['k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions']};")
    out.append("")

    bad = []
    for full, names in pointers.items():
        for n in names:
            if (full, n) not in used_pointers:
                bad.append(f"{full}.{n}")
    if bad:
        sys.exit("pointer list names fields not in the schema:\n  " + "\n  ".join(sorted(bad)))
    for u in unmatched:
        print(f"note: no JSON name in k8s-openapi for {u}", file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out))
    print(f"wrote {args.out}: {len(order)} messages, {len(kinds)} kinds", file=sys.stderr)


if __name__ == "__main__":
    main()
