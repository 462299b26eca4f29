//! End-to-end: the real kubectl reading rkube's OpenAPI documents: `kubectl explain`, and the
//! client-side validation kubectl falls back to (it downloads `/openapi/v2` as protobuf) for
//! objects whose kind has no path in the v3 documents (`kind: List`, unknown kinds).

use rkube_testkit::TestServer;

fn server() -> TestServer {
    TestServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_rkube")))
        .expect("starting rkube server")
}

/// Lines of `text` with runs of spaces and tabs squeezed, for comparing explain's layout.
fn squeezed(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn explain_prints_upstream_fields_and_descriptions() {
    let s = server();
    let out = s.kubectl(&["explain", "deployment.spec.strategy"]);
    assert!(out.success, "{}", out.all());
    let text = squeezed(&out.stdout);
    for want in [
        "GROUP: apps\nKIND: Deployment\nVERSION: v1",
        "FIELD: strategy <DeploymentStrategy>",
        "DESCRIPTION:\nThe deployment strategy to use to replace existing pods with new ones.\nDeploymentStrategy describes how to replace existing pods with new ones.",
        "rollingUpdate <RollingUpdateDeployment>\nRolling update config params. Present only if DeploymentStrategyType =\nRollingUpdate.",
        "type <string>",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{}", out.stdout);
    }

    let out = s.kubectl(&["explain", "pod.spec.containers.livenessProbe"]);
    let text = squeezed(&out.stdout);
    for want in [
        "FIELD: livenessProbe <Probe>",
        "Periodic probe of container liveness. Container will be restarted if the",
        "httpGet <HTTPGetAction>\nHTTPGet specifies an HTTP GET request to perform.",
        "periodSeconds <integer>\nHow often (in seconds) to perform the probe. Default to 10 seconds. Minimum\nvalue is 1.",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{}", out.stdout);
    }

    let out = s.kubectl(&["explain", "pods", "--recursive"]);
    let text = squeezed(&out.stdout);
    for want in [
        "KIND: Pod\nVERSION: v1",
        "ownerReferences <[]OwnerReference>\napiVersion <string> -required-",
        "containers <[]Container> -required-",
        "nodeSelector <map[string]string>",
        "ports <[]ContainerPort>\ncontainerPort <integer> -required-",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{}", out.stdout);
    }

    let out = s.kubectl(&["explain", "--api-version=autoscaling/v2", "hpa.spec"]);
    let text = squeezed(&out.stdout);
    for want in [
        "GROUP: autoscaling\nKIND: HorizontalPodAutoscaler\nVERSION: v2",
        "FIELD: spec <HorizontalPodAutoscalerSpec>",
        "behavior <HorizontalPodAutoscalerBehavior>",
        "maxReplicas <integer> -required-",
        "metrics <[]MetricSpec>",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{}", out.stdout);
    }
}

/// Enum-typed fields, as upstream's OpenAPI v3 documents describe them: kubectl lists the
/// values under `ENUM:` (one field) or on an `enum:` line (a field list), and the description
/// ends with upstream's "Possible enum values:" list.
#[test]
fn explain_lists_the_values_of_enum_fields() {
    let s = server();
    let out = s.kubectl(&["explain", "pod.spec.restartPolicy"]);
    assert!(out.success, "{}", out.all());
    assert!(
        out.stdout.contains(
            "FIELD: restartPolicy <string>\nENUM:\n    Always\n    Never\n    OnFailure\n\nDESCRIPTION:\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "    https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy\n    \n    Possible enum values:\n     - `\"Always\"`\n     - `\"Never\"`\n     - `\"OnFailure\"`\n"
        ),
        "{}",
        out.stdout
    );

    let out = s.kubectl(&["explain", "service.spec.type"]);
    assert!(out.success, "{}", out.all());
    assert!(
        out.stdout.contains(
            "FIELD: type <string>\nENUM:\n    ClusterIP\n    ExternalName\n    LoadBalancer\n    NodePort\n\nDESCRIPTION:\n"
        ),
        "{}",
        out.stdout
    );
    let text = squeezed(&out.stdout);
    assert!(
        text.contains("Possible enum values:\n- `\"ClusterIP\"` means a service will only be accessible inside the cluster,\nvia the cluster IP."),
        "{}",
        out.stdout
    );

    // In a field list, the values follow the field on an `enum:` line (at most four).
    let out = s.kubectl(&["explain", "pod.spec.containers"]);
    let text = squeezed(&out.stdout);
    assert!(
        text.contains("imagePullPolicy <string>\nenum: Always, IfNotPresent, Never"),
        "{}",
        out.stdout
    );
}

fn config_map_list(n: usize) -> String {
    let mut yaml = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: listed-{i}}}, data: {{n: \"{i}\"}}}}\n"
        ));
    }
    yaml
}

#[test]
fn lists_and_unknown_kinds_are_validated_on_the_client_from_openapi_v2() {
    let s = server();
    // kind: List has no path in the v3 documents, so kubectl validates it against /openapi/v2.
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&config_map_list(3)));
    assert!(out.success, "{}", out.all());
    assert_eq!(
        out.stdout,
        "configmap/listed-0 created\nconfigmap/listed-1 created\nconfigmap/listed-2 created\n"
    );

    // An unknown field inside a List is caught by that client-side validation.
    let bad = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: odd}, colour: red}\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(bad));
    assert!(!out.success, "{}", out.all());
    assert!(
        out.stderr
            .contains(r#"unknown field "colour" in io.k8s.api.core.v1.ConfigMap"#),
        "{}",
        out.all()
    );

    // Unknown kinds pass validation (no schema) and then fail discovery, as upstream.
    let out = s.kubectl_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n"),
    );
    assert!(!out.success);
    assert!(
        out.stderr
            .contains(r#"no matches for kind "Frobnicator" in version "v1""#),
        "{}",
        out.all()
    );
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\n"),
    );
    assert!(
        out.stderr
            .contains(r#"no matches for kind "Deployment" in version "v1""#),
        "{}",
        out.all()
    );
}

#[test]
fn unknown_fields_of_served_kinds_are_rejected_by_the_server() {
    let s = server();
    // The v3 documents advertise fieldValidation, so kubectl leaves strict checking to the server.
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c2}\nbogus: 1\n"),
    );
    assert!(!out.success);
    assert!(
        out.stderr.contains(
            r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#
        ),
        "{}",
        out.all()
    );
}

#[test]
fn openapi_documents_carry_schemas_and_merge_tags() {
    let s = server();
    // kubectl itself decodes the protobuf form (--validate falls back to it); here the raw
    // JSON forms are checked for what clients look up.
    let v2 = s.kubectl(&["get", "--raw", "/openapi/v2"]);
    assert!(v2.success, "{}", v2.all());
    let doc: serde_json::Value = serde_json::from_str(&v2.stdout).unwrap();
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(
        doc["definitions"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    let index = s.kubectl(&["get", "--raw", "/openapi/v3"]);
    let index: serde_json::Value = serde_json::from_str(&index.stdout).unwrap();
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let apps = s.kubectl(&["get", "--raw", &url]);
    let apps: serde_json::Value = serde_json::from_str(&apps.stdout).unwrap();
    let containers =
        &apps["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
}
