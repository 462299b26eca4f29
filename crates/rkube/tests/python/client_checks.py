#!/usr/bin/env python3
"""The official Python `kubernetes` client against an rkube server, as a user's script uses it.

Usage: client_checks.py KUBECONFIG
Runs every check, prints each failure, and exits 1 if any failed (0 when all passed).
"""
import json
import sys
import threading
import time
import traceback

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

FAILURES = []
GAPS = []
NS = "py-client"


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}", flush=True)


def gap(cond, what):
    """A check of upstream behaviour rkube does not have yet: reported, not failed. When it starts
    passing, the check should become a `check`."""
    if not cond:
        GAPS.append(what)
        print(f"KNOWN GAP: {what}", flush=True)


def section(fn):
    """Run one group of checks; an unexpected exception fails the group, not the script."""
    try:
        fn()
        print(f"ok: {fn.__name__}", flush=True)
    except Exception:  # noqa: BLE001 - report everything
        FAILURES.append(f"{fn.__name__}: unexpected exception")
        print(f"FAIL: {fn.__name__}: unexpected exception\n{traceback.format_exc()}", flush=True)


def api_error(call):
    """Run `call`, which must fail; return (HTTP status, Status object as a dict)."""
    try:
        call()
    except ApiException as e:
        try:
            body = json.loads(e.body)
        except (TypeError, ValueError):
            body = {}
        return e.status, body
    raise AssertionError("the call succeeded, an error was expected")


def expect_error(call, status, reason, what):
    got, body = api_error(call)
    check(got == status, f"{what}: HTTP {got}, want {status} ({body})")
    check(body.get("kind") == "Status", f"{what}: the body is a Status ({body})")
    check(body.get("reason") == reason, f"{what}: reason {body.get('reason')!r}, want {reason!r}")
    return body


def meta(name, labels=None):
    return client.V1ObjectMeta(name=name, labels=labels)


def core():
    return client.CoreV1Api()


def namespaces():
    v1 = core()
    ns = v1.create_namespace(client.V1Namespace(metadata=meta(NS, {"team": "py"})))
    check(ns.metadata.name == NS and ns.metadata.uid, "namespace created with a uid")
    check(ns.status.phase == "Active", f"new namespace phase {ns.status.phase}")
    got = v1.read_namespace(NS)
    check(got.metadata.labels.get("team") == "py", "namespace labels read back")
    names = [n.metadata.name for n in v1.list_namespace(label_selector="team=py").items]
    check(names == [NS], f"namespaces with team=py: {names}")
    all_names = [n.metadata.name for n in v1.list_namespace().items]
    for n in ["default", "kube-system", NS]:
        check(n in all_names, f"namespace {n} listed")
    expect_error(lambda: v1.create_namespace(client.V1Namespace(metadata=meta(NS))),
                 409, "AlreadyExists", "creating an existing namespace")
    # The namespace's default ServiceAccount appears (pods need it upstream).
    for _ in range(100):
        try:
            v1.read_namespaced_service_account("default", NS)
            break
        except ApiException:
            time.sleep(0.05)
    else:
        check(False, "the namespace got its default ServiceAccount")


def configmaps():
    v1 = core()
    for name, labels in [("web", {"app": "web", "tier": "front"}), ("db", {"app": "db", "tier": "back"}),
                         ("plain", None)]:
        cm = v1.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta(name, labels),
                                                                    data={"color": "blue"}))
        check(cm.metadata.resource_version, f"{name}: created with a resourceVersion")
    got = v1.read_namespaced_config_map("web", NS)
    check(got.data == {"color": "blue"}, f"web data {got.data}")

    def sel(s):
        return sorted(c.metadata.name for c in v1.list_namespaced_config_map(NS, label_selector=s).items)
    check(sel("app=web") == ["web"], f"app=web: {sel('app=web')}")
    check(sel("tier in (front,back)") == ["db", "web"], f"tier in (front,back): {sel('tier in (front,back)')}")
    check(sel("app,app!=web") == ["db"], f"app,app!=web: {sel('app,app!=web')}")
    check("plain" in sel("!app"), f"!app: {sel('!app')}")
    fs = sorted(c.metadata.name for c in v1.list_namespaced_config_map(NS, field_selector="metadata.name=db").items)
    check(fs == ["db"], f"field selector metadata.name=db: {fs}")
    listed = v1.list_namespaced_config_map(NS, limit=2)
    check(len(listed.items) == 2 and listed.metadata._continue, "limit=2 gives 2 items and a continue token")
    rest = v1.list_namespaced_config_map(NS, limit=2, _continue=listed.metadata._continue)
    check(len(listed.items) + len(rest.items) >= 3, "the continue token gives the rest")

    expect_error(lambda: v1.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("web"))),
                 409, "AlreadyExists", "creating an existing ConfigMap")
    body = expect_error(lambda: v1.read_namespaced_config_map("nope", NS), 404, "NotFound", "reading a missing ConfigMap")
    check(body.get("details", {}).get("name") == "nope" and body.get("details", {}).get("kind") == "configmaps",
          f"NotFound details {body.get('details')}")
    check(body.get("message") == 'configmaps "nope" not found', f"NotFound message {body.get('message')!r}")

    # replace with the current resourceVersion works; with a stale one it is a Conflict.
    stale = v1.read_namespaced_config_map("web", NS)
    fresh = v1.read_namespaced_config_map("web", NS)
    fresh.data = {"color": "green"}
    replaced = v1.replace_namespaced_config_map("web", NS, fresh)
    check(replaced.data == {"color": "green"}, "replace changed the data")
    check(int(replaced.metadata.resource_version) > int(stale.metadata.resource_version),
          "replace moved the resourceVersion forward")
    stale.data = {"color": "red"}
    body = expect_error(lambda: v1.replace_namespaced_config_map("web", NS, stale), 409, "Conflict",
                        "replace with a stale resourceVersion")
    check("the object has been modified" in body.get("message", ""), f"Conflict message {body.get('message')!r}")

    # patches: the client's default (strategic merge for a dict) and a JSON patch (a list).
    patched = v1.patch_namespaced_config_map("web", NS, {"data": {"size": "L"}, "metadata": {"labels": {"v": "2"}}})
    check(patched.data == {"color": "green", "size": "L"}, f"merge-patched data {patched.data}")
    check(patched.metadata.labels.get("v") == "2", "patched label")
    patched = v1.patch_namespaced_config_map("web", NS, [{"op": "remove", "path": "/data/size"}])
    check(patched.data == {"color": "green"}, f"JSON-patched data {patched.data}")
    expect_error(lambda: v1.patch_namespaced_config_map("web", NS, [{"op": "test", "path": "/data/color", "value": "x"}]),
                 422, "Invalid", "a failing JSON patch test op")

    # 422 Invalid with causes.
    bad = client.V1ConfigMap(metadata=meta("Bad_Name"), data={"bad key!": "x"})
    body = expect_error(lambda: v1.create_namespaced_config_map(NS, bad), 422, "Invalid", "invalid ConfigMap")
    causes = body.get("details", {}).get("causes", [])
    fields = sorted(c.get("field") for c in causes)
    check("metadata.name" in fields, f"causes name metadata.name: {causes}")
    check(any(f and f.startswith("data[") for f in fields), f"causes name the bad data key: {causes}")
    check(all(c.get("reason") == "FieldValueInvalid" for c in causes), f"cause reasons: {causes}")

    v1.delete_namespaced_config_map("db", NS)
    expect_error(lambda: v1.read_namespaced_config_map("db", NS), 404, "NotFound", "reading a deleted ConfigMap")
    expect_error(lambda: v1.delete_namespaced_config_map("db", NS), 404, "NotFound", "deleting a deleted ConfigMap")


def watching():
    v1 = core()
    rv = v1.list_namespaced_config_map(NS).metadata.resource_version
    seen = []
    done = threading.Event()

    def run():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, NS, label_selector="watched=yes",
                           resource_version=rv, timeout_seconds=20):
            seen.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version,
                         (ev["object"].data or {}).get("step")))
            if ev["type"] == "DELETED":
                w.stop()
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    time.sleep(0.3)
    v1.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("watched", {"watched": "yes"}),
                                                           data={"step": "1"}))
    v1.patch_namespaced_config_map("watched", NS, {"data": {"step": "2"}})
    v1.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("unwatched"), data={"step": "x"}))
    v1.delete_namespaced_config_map("watched", NS)
    check(done.wait(20), "the watch ended after DELETED")
    kinds = [(t, n, s) for t, n, _, s in seen]
    check(kinds == [("ADDED", "watched", "1"), ("MODIFIED", "watched", "2"), ("DELETED", "watched", "2")],
          f"watch events {kinds}")
    rvs = [int(r) for _, _, r, _ in seen]
    check(rvs == sorted(rvs) and len(set(rvs)) == len(rvs), f"resourceVersions increase: {rvs}")


def deployments():
    apps = client.AppsV1Api()
    labels = {"app": "py-web"}
    dep = client.V1Deployment(
        metadata=meta("py-web", labels),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=meta(None, labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.25")]))))
    created = apps.create_namespaced_deployment(NS, dep)
    check(created.spec.replicas == 1, f"default replicas {created.spec.replicas}")
    check(created.spec.strategy.type == "RollingUpdate", f"default strategy {created.spec.strategy.type}")
    check(created.spec.revision_history_limit == 10, f"default revisionHistoryLimit {created.spec.revision_history_limit}")
    check(created.metadata.generation == 1, f"generation {created.metadata.generation}")
    c0 = created.spec.template.spec.containers[0]
    check(c0.image_pull_policy == "IfNotPresent", f"imagePullPolicy default {c0.image_pull_policy}")
    check(created.spec.template.spec.restart_policy == "Always", "restartPolicy default")
    names = [d.metadata.name for d in apps.list_namespaced_deployment(NS, label_selector="app=py-web").items]
    check(names == ["py-web"], f"deployments with app=py-web: {names}")

    patched = apps.patch_namespaced_deployment("py-web", NS, {"spec": {"replicas": 3}})
    check(patched.spec.replicas == 3 and patched.metadata.generation == 2,
          f"patched replicas {patched.spec.replicas}, generation {patched.metadata.generation}")
    scale = apps.read_namespaced_deployment_scale("py-web", NS)
    check(scale.spec.replicas == 3, f"scale subresource replicas {scale.spec.replicas}")
    stale = created
    stale.spec.replicas = 5
    expect_error(lambda: apps.replace_namespaced_deployment("py-web", NS, stale), 409, "Conflict",
                 "replacing a Deployment with a stale resourceVersion")
    bad = client.V1Deployment(
        metadata=meta("py-bad"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "a"}),
            template=client.V1PodTemplateSpec(
                metadata=meta(None, {"app": "b"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]))))
    body = expect_error(lambda: apps.create_namespaced_deployment(NS, bad), 422, "Invalid",
                        "a Deployment whose selector does not match its template")
    causes = body.get("details", {}).get("causes", [])
    check(any(c.get("field") == "spec.template.metadata.labels" for c in causes), f"causes {causes}")
    apps.delete_namespaced_deployment("py-web", NS)
    expect_error(lambda: apps.read_namespaced_deployment("py-web", NS), 404, "NotFound", "reading a deleted Deployment")


def services():
    v1 = core()
    svc = client.V1Service(metadata=meta("py-svc"), spec=client.V1ServiceSpec(
        selector={"app": "py-web"}, ports=[client.V1ServicePort(port=80, target_port=8080)]))
    created = v1.create_namespaced_service(NS, svc)
    check(created.spec.type == "ClusterIP", f"default type {created.spec.type}")
    check(created.spec.cluster_ip and created.spec.cluster_ip.startswith("10."), f"clusterIP {created.spec.cluster_ip}")
    check(created.spec.ports[0].protocol == "TCP", "default port protocol")
    check(created.spec.session_affinity == "None", f"sessionAffinity {created.spec.session_affinity}")
    np = v1.create_namespaced_service(NS, client.V1Service(metadata=meta("py-np"), spec=client.V1ServiceSpec(
        type="NodePort", selector={"app": "x"}, ports=[client.V1ServicePort(port=80)])))
    port = np.spec.ports[0].node_port
    check(port is not None and 30000 <= port <= 32767, f"nodePort {port}")
    bad = client.V1Service(metadata=meta("py-bad"), spec=client.V1ServiceSpec(
        ports=[client.V1ServicePort(port=70000)]))
    body = expect_error(lambda: v1.create_namespaced_service(NS, bad), 422, "Invalid", "a Service port out of range")
    causes = body.get("details", {}).get("causes", [])
    check(any(c.get("field") == "spec.ports[0].port" for c in causes), f"causes {causes}")
    deleted = v1.delete_namespaced_service("py-svc", NS)
    check(isinstance(deleted, client.V1Service) and deleted.metadata and deleted.metadata.name == "py-svc",
          f"deleting a Service answers with the Service: {deleted}")
    v1.delete_namespaced_service("py-np", NS)
    left = [s.metadata.name for s in v1.list_namespaced_service(NS).items]
    check(left == [], f"services left {left}")


def secrets():
    v1 = core()
    created = v1.create_namespaced_secret(NS, client.V1Secret(metadata=meta("py-secret"),
                                                              string_data={"password": "hunter2"}))
    check(created.type == "Opaque", f"secret type {created.type}")
    check(created.data == {"password": "aHVudGVyMg=="}, f"stringData became base64 data: {created.data}")
    check(created.string_data is None, "stringData is not stored")
    got = v1.read_namespaced_secret("py-secret", NS)
    check(got.data == created.data, "secret read back")
    bad = client.V1Secret(metadata=meta("py-tls"), type="kubernetes.io/tls", data={})
    expect_error(lambda: v1.create_namespaced_secret(NS, bad), 422, "Invalid", "a TLS secret without tls.crt")
    v1.delete_namespaced_secret("py-secret", NS)
    expect_error(lambda: v1.read_namespaced_secret("py-secret", NS), 404, "NotFound", "reading a deleted Secret")


def pods():
    v1 = core()
    pod = client.V1Pod(metadata=meta("py-pod", {"app": "py"}), spec=client.V1PodSpec(
        containers=[client.V1Container(name="c", image="busybox:1.36", command=["sleep", "3600"])]))
    created = v1.create_namespaced_pod(NS, pod)
    check(created.status.phase == "Pending", f"new pod phase {created.status.phase}")
    check(created.spec.service_account_name == "default",
        f"ServiceAccount admission: serviceAccountName defaults to default (got {created.spec.service_account_name})")
    check(created.spec.termination_grace_period_seconds == 30, "terminationGracePeriodSeconds default")
    check(created.spec.dns_policy == "ClusterFirst", f"dnsPolicy {created.spec.dns_policy}")
    check(created.spec.containers[0].termination_message_path == "/dev/termination-log", "terminationMessagePath")
    names = [p.metadata.name for p in v1.list_namespaced_pod(NS, label_selector="app=py").items]
    check(names == ["py-pod"], f"pods with app=py: {names}")
    pending = [p.metadata.name for p in v1.list_namespaced_pod(NS, field_selector="status.phase=Pending").items]
    check("py-pod" in pending, f"field selector status.phase=Pending: {pending}")
    body = expect_error(lambda: v1.patch_namespaced_pod("py-pod", NS, {"spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["true"]}]}}),
                        422, "Invalid", "changing an immutable pod field")
    check(body.get("details", {}).get("causes"), f"causes {body.get('details')}")
    # A strategic merge patch merges containers by name: only the image changes.
    img = v1.patch_namespaced_pod("py-pod", NS, {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}})
    check(img.spec.containers[0].image == "busybox:1.37", "the image of a pod may change")
    check(img.spec.containers[0].command == ["sleep", "3600"], "the strategic merge kept the command")
    # An unscheduled pod goes at once.
    v1.delete_namespaced_pod("py-pod", NS)
    for _ in range(100):
        try:
            v1.read_namespaced_pod("py-pod", NS)
            time.sleep(0.05)
        except ApiException as e:
            check(e.status == 404, f"reading the deleted pod: {e.status}")
            break
    else:
        check(False, "the unscheduled pod was deleted")


def jobs():
    batch = client.BatchV1Api()
    job = client.V1Job(metadata=meta("py-job"), spec=client.V1JobSpec(template=client.V1PodTemplateSpec(
        spec=client.V1PodSpec(restart_policy="Never",
                              containers=[client.V1Container(name="c", image="busybox", command=["true"])]))))
    created = batch.create_namespaced_job(NS, job)
    check(created.spec.completions == 1 and created.spec.parallelism == 1,
          f"completions/parallelism {created.spec.completions}/{created.spec.parallelism}")
    check(created.spec.backoff_limit == 6, f"backoffLimit {created.spec.backoff_limit}")
    check(created.spec.completion_mode == "NonIndexed", f"completionMode {created.spec.completion_mode}")
    uid_labels = (created.spec.selector.match_labels or {}) if created.spec.selector else {}
    check(uid_labels.get("batch.kubernetes.io/controller-uid") == created.metadata.uid,
          f"generated selector {uid_labels}")
    check(created.spec.template.metadata.labels.get("job-name") == "py-job", "template labels job-name")
    body = expect_error(lambda: batch.patch_namespaced_job("py-job", NS, {"spec": {"completions": 3}}),
                        422, "Invalid", "changing a Job's completions")
    check(body.get("details", {}).get("causes"), "causes of the Job error")
    batch.delete_namespaced_job("py-job", NS, propagation_policy="Background")
    expect_error(lambda: batch.read_namespaced_job("py-job", NS), 404, "NotFound", "reading a deleted Job")


def roles():
    rbac = client.RbacAuthorizationV1Api()
    role = client.V1Role(metadata=meta("py-reader"), rules=[client.V1PolicyRule(
        api_groups=[""], resources=["pods", "configmaps"], verbs=["get", "list", "watch"])])
    created = rbac.create_namespaced_role(NS, role)
    check(created.rules[0].verbs == ["get", "list", "watch"], f"role rules {created.rules}")
    binding = client.V1RoleBinding(metadata=meta("py-reader"),
                                   role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="py-reader"),
                                   subjects=[client.RbacV1Subject(kind="User", name="jane", api_group="rbac.authorization.k8s.io")])
    rbac.create_namespaced_role_binding(NS, binding)
    names = [r.metadata.name for r in rbac.list_namespaced_role(NS).items]
    check(names == ["py-reader"], f"roles {names}")
    bad = client.V1Role(metadata=meta("py-bad"), rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=[])])
    expect_error(lambda: rbac.create_namespaced_role(NS, bad), 422, "Invalid", "a Role rule without verbs")
    rbac.delete_namespaced_role_binding("py-reader", NS)
    rbac.delete_namespaced_role("py-reader", NS)
    expect_error(lambda: rbac.read_namespaced_role("py-reader", NS), 404, "NotFound", "reading a deleted Role")


def crds():
    ext = client.ApiextensionsV1Api()
    crd = client.V1CustomResourceDefinition(
        metadata=meta("widgets.example.com"),
        spec=client.V1CustomResourceDefinitionSpec(
            group="example.com", scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(plural="widgets", singular="widget", kind="Widget",
                                                         list_kind="WidgetList"),
            versions=[client.V1CustomResourceDefinitionVersion(
                name="v1", served=True, storage=True,
                schema=client.V1CustomResourceValidation(open_apiv3_schema=client.V1JSONSchemaProps(
                    type="object", properties={"spec": client.V1JSONSchemaProps(
                        type="object", properties={"size": client.V1JSONSchemaProps(type="integer")})})))]))
    created = ext.create_custom_resource_definition(crd)
    check(created.metadata.name == "widgets.example.com", "CRD created")
    got = ext.read_custom_resource_definition("widgets.example.com")
    check(got.spec.versions[0].schema.open_apiv3_schema.properties["spec"].properties["size"].type == "integer",
          "CRD schema read back")
    names = [c.metadata.name for c in ext.list_custom_resource_definition().items]
    check("widgets.example.com" in names, f"CRDs listed: {names}")
    bad = client.V1CustomResourceDefinition(
        metadata=meta("wrong.example.com"),
        spec=client.V1CustomResourceDefinitionSpec(
            group="example.com", scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(plural="gadgets", kind="Gadget"),
            versions=[client.V1CustomResourceDefinitionVersion(name="v1", served=True, storage=True)]))
    body = expect_error(lambda: ext.create_custom_resource_definition(bad), 422, "Invalid",
                        "a CRD whose name is not <plural>.<group>")
    check(any(c.get("field") == "metadata.name" for c in body.get("details", {}).get("causes", [])),
          f"causes {body.get('details')}")
    ext.delete_custom_resource_definition("widgets.example.com")
    for _ in range(100):
        try:
            ext.read_custom_resource_definition("widgets.example.com")
            time.sleep(0.05)
        except ApiException as e:
            check(e.status == 404, f"reading the deleted CRD: {e.status}")
            break
    else:
        check(False, "the CRD was deleted")


def cleanup():
    v1 = core()
    v1.delete_namespace(NS)
    # The namespace stays Terminating while its contents go; then it is gone. Either way, nothing
    # new may be created in it.
    try:
        phase = v1.read_namespace(NS).status.phase
    except ApiException as e:
        phase = f"HTTP {e.status}"
    check(phase in ("Terminating", "HTTP 404"), f"deleted namespace phase {phase}")
    status, body = api_error(lambda: v1.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=meta("late"))))
    check((status, body.get("reason")) in ((403, "Forbidden"), (404, "NotFound")),
          f"creating in a deleted namespace: {status} {body}")
    for _ in range(200):
        try:
            v1.read_namespace(NS)
            time.sleep(0.05)
        except ApiException as e:
            check(e.status == 404, f"reading the deleted namespace: {e.status}")
            break
    else:
        check(False, "the deleted namespace went away")


def main():
    config.load_kube_config(config_file=sys.argv[1])
    for fn in [namespaces, configmaps, watching, deployments, services, secrets, pods, jobs, roles, crds, cleanup]:
        section(fn)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed:", *FAILURES, sep="\n  ")
        sys.exit(1)
    if GAPS:
        print(f"{len(GAPS)} known gap(s):", *GAPS, sep="\n  ")
    print("all checks passed")


if __name__ == "__main__":
    main()
