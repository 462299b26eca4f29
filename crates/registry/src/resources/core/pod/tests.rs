//! Pod rules against upstream's recorded answers (`shared/golden/responses`) and messages.

use crate::resources::core::testing::{create, create_error, update_error};
use serde_json::{Value, json};

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn busybox() -> Value {
    pod(json!({"containers": [{"name": "c", "image": "busybox"}]}))
}

/// `create_pod_defaults.json` without what admission adds (the service account token volume
/// and mount, serviceAccountName, the not-ready/unreachable tolerations, priority and
/// preemptionPolicy).
#[test]
fn minimal_pod_defaults_to_the_golden_object() {
    let (stored, errs) = create("pods", busybox());
    assert!(errs.is_empty(), "{}", errs.aggregate_message());
    assert_eq!(
        stored["spec"],
        json!({
            "containers": [{
                "name": "c",
                "image": "busybox",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "Always"
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "enableServiceLinks": true
        })
    );
    assert_eq!(
        stored["status"],
        json!({"phase": "Pending", "qosClass": "BestEffort"})
    );
}

#[test]
fn nested_defaults() {
    let spec = json!({
        "containers": [{
            "name": "c", "image": "nginx:1.25",
            "ports": [{"containerPort": 80}],
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "livenessProbe": {"httpGet": {"port": 80}},
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}
        }],
        "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}}, {"name": "h", "hostPath": {"path": "/x"}}]
    });
    let (stored, errs) = create("pods", pod(spec));
    assert!(errs.is_empty(), "{}", errs.aggregate_message());
    let c = &stored["spec"]["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "1", "memory": "1Gi"})
    );
    assert_eq!(stored["spec"]["volumes"][0]["emptyDir"], json!({}));
    assert_eq!(
        stored["spec"]["volumes"][1]["configMap"]["defaultMode"],
        420
    );
    assert_eq!(stored["spec"]["volumes"][2]["hostPath"]["type"], "");
    assert_eq!(stored["status"]["qosClass"], "Guaranteed");
}

#[test]
fn qos_classes() {
    let with = |resources: Value| {
        let (stored, _) = create(
            "pods",
            pod(json!({"containers": [{"name": "c", "image": "x", "resources": resources}]})),
        );
        stored["status"]["qosClass"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(with(json!({"requests": {"cpu": "100m"}})), "Burstable");
    assert_eq!(with(json!({"limits": {"cpu": "1"}})), "Burstable");
    assert_eq!(
        with(
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
        ),
        "Guaranteed"
    );
    assert_eq!(with(json!({})), "BestEffort");
}

#[test]
fn upstream_messages_for_invalid_pods() {
    let cases = [
        (pod(json!({})), "spec.containers: Required value"),
        (
            pod(json!({"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "x"}]})),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        ),
        (
            pod(json!({"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]})),
            "spec.containers[1].name: Duplicate value: \"c\"",
        ),
        (
            pod(json!({"containers": [{"name": "c"}]})),
            "spec.containers[0].image: Required value",
        ),
        (
            pod(
                json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 70000, "protocol": "tcp"}]}]}),
            ),
            "[spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.containers[0].ports[0].protocol: Unsupported value: \"tcp\": supported values: \"SCTP\", \"TCP\", \"UDP\"]",
        ),
        (
            pod(
                json!({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]}),
            ),
            "spec.containers[0].volumeMounts[0].name: Not found: \"v\"",
        ),
        (
            pod(json!({"dnsPolicy": "Cluster", "containers": [{"name": "c", "image": "x"}]})),
            "spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
        ),
        (
            pod(json!({"containers": [{"name": "C_1", "image": "x"}]})),
            "spec.containers[0].name: Invalid value: \"C_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
        (
            pod(
                json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]}),
            ),
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        ),
        (
            pod(
                json!({"containers": [{"name": "c", "image": "x", "imagePullPolicy": "Sometimes"}]}),
            ),
            "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
        ),
    ];
    for (object, want) in cases {
        assert_eq!(create_error("pods", object), want);
    }
}

#[test]
fn pod_updates_may_only_change_images_and_a_few_fields() {
    // A full replace must keep the defaulted pull policy, as with upstream.
    let new_image = pod(
        json!({"containers": [{"name": "c", "image": "busybox:1", "imagePullPolicy": "Always"}]}),
    );
    assert_eq!(update_error("pods", busybox(), new_image), "");
    let changed = update_error(
        "pods",
        busybox(),
        pod(json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]})),
    );
    assert!(
        changed.starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"),
        "{changed}"
    );
    assert!(changed.contains("restartPolicy"), "{changed}");
    let added = update_error(
        "pods",
        busybox(),
        pod(
            json!({"containers": [{"name": "c", "image": "busybox"}, {"name": "d", "image": "busybox"}]}),
        ),
    );
    assert_eq!(
        added,
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    );
}

#[test]
fn shared_template_entry_points() {
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    let mut t: PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"labels": {"app": "bad value"}},
        "spec": {"containers": [{"name": "c", "image": "x:1"}]}
    }))
    .unwrap();
    super::default_pod_template_spec(&mut t);
    let spec = t.spec.as_ref().unwrap();
    assert_eq!(spec.enable_service_links, None);
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("IfNotPresent")
    );
    let errs = super::validate_pod_template_spec(
        &t,
        &rkube_machinery::FieldPath::new("spec").child("template"),
    );
    assert!(
        errs.aggregate_message()
            .starts_with("spec.template.labels: Invalid value: \"bad value\""),
        "{}",
        errs.aggregate_message()
    );
}

/// The field-selector values read from the pruned JSON (what the watch cache records on every
/// write) are the ones the whole pod gives.
#[test]
fn field_values_from_pruned_json_match_the_whole_pod() {
    use crate::strategy::TypedStrategy;
    let mut object = pod(json!({
        "containers": [{"name": "c", "image": "busybox"}],
        "nodeName": "n1", "restartPolicy": "OnFailure", "schedulerName": "s",
        "serviceAccountName": "sa", "hostNetwork": true,
    }));
    object["status"] = json!({"phase": "Running", "podIP": "10.1.0.5",
        "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}], "nominatedNodeName": "n2"});
    let info = crate::catalog::find("", "v1", "pods").unwrap();
    let strategy = crate::strategy_for(info).unwrap();
    let typed: k8s_openapi::api::core::v1::Pod = serde_json::from_value(object.clone()).unwrap();
    let whole = super::PodStrategy.field_values(&typed);
    assert_eq!(whole[0], ("spec.nodeName", "n1".to_string()));
    assert!(whole.contains(&("status.podIP", "10.1.0.5".to_string())));
    let bytes = serde_json::to_vec(&object).unwrap();
    assert_eq!(strategy.selectable_fields_of_json(&bytes), whole);
    assert_eq!(strategy.selectable_fields(&object), whole);
}
