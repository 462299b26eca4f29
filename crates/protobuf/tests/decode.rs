//! Objects encoded with k8s-pb (prost) the way Go's client-go encodes them (non-pointer fields
//! always present, zeros included), wrapped in the envelope, decoded, and compared with the
//! JSON Go would have sent.

use k8s_pb::api::{apps, authorization, batch, core, policy};
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use rkube_protobuf::{DecodeError, DecodeOptions, decode, decode_with, is_protobuf};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The body client-go sends: magic, then runtime.Unknown with Go's empty encoding fields.
fn envelope(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// ObjectMeta as Go writes it for a new object: every non-pointer field present.
fn go_meta(name: &str, namespace: &str) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        ..Default::default()
    }
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

fn int(v: i32) -> IntOrString {
    IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: s(""),
    }
}

fn string(v: &str) -> IntOrString {
    IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(v),
    }
}

fn roundtrip(api_version: &str, kind: &str, object: &impl Message) -> Value {
    let (v, k, value) = decode(&envelope(api_version, kind, object)).unwrap();
    assert_eq!((v.as_str(), k.as_str()), (api_version, kind));
    value
}

#[test]
fn content_types() {
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "Application/VND.Kubernetes.Protobuf ; charset=utf-8"
    ));
    assert!(is_protobuf(
        "application/vnd.kubernetes.protobuf;stream=watch"
    ));
    assert!(!is_protobuf("application/json"));
    assert!(!is_protobuf("application/vnd.kubernetes.protobuf.extra"));
    assert!(!is_protobuf(""));
}

#[test]
fn configmap_with_data_and_binary_data() {
    let cm = core::v1::ConfigMap {
        metadata: Some(go_meta("cfg", "default")),
        data: map(&[("a", "1".to_string()), ("empty", String::new())]),
        binary_data: map(&[("bin", vec![0u8, 1, 2, 255])]),
        immutable: None,
    };
    let got = roundtrip("v1", "ConfigMap", &cm);
    assert_eq!(
        got,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default", "creationTimestamp": null},
            "data": {"a": "1", "empty": ""},
            "binaryData": {"bin": "AAEC/w=="},
        })
    );
    // apiVersion and kind come first, as in every JSON body.
    let keys: Vec<_> = got.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys[..2], ["apiVersion", "kind"]);

    // With zeros kept, the wire's content shows through.
    let (_, _, raw) = decode_with(
        &envelope("v1", "ConfigMap", &cm),
        &DecodeOptions {
            keep_zero_values: true,
        },
    )
    .unwrap();
    assert_eq!(raw["metadata"]["generateName"], "");
    assert_eq!(raw["metadata"]["generation"], 0);
}

#[test]
fn immutable_false_is_kept() {
    let cm = core::v1::ConfigMap {
        metadata: Some(go_meta("cfg", "")),
        immutable: Some(false),
        ..Default::default()
    };
    assert_eq!(
        roundtrip("v1", "ConfigMap", &cm),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "creationTimestamp": null}, "immutable": false})
    );
}

#[test]
fn secret_with_data() {
    let secret = core::v1::Secret {
        metadata: Some(go_meta("token", "kube-system")),
        data: map(&[("password", b"hunter2".to_vec()), ("blank", vec![])]),
        r#type: s("Opaque"),
        ..Default::default()
    };
    assert_eq!(
        roundtrip("v1", "Secret", &secret),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "token", "namespace": "kube-system", "creationTimestamp": null},
            "data": {"password": "aHVudGVyMg==", "blank": ""},
            "type": "Opaque",
        })
    );
}

fn go_container(name: &str, image: &str) -> core::v1::Container {
    core::v1::Container {
        name: s(name),
        image: s(image),
        working_dir: s(""),
        termination_message_path: s(""),
        image_pull_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        termination_message_policy: s(""),
        resources: Some(core::v1::ResourceRequirements::default()),
        ..Default::default()
    }
}

#[test]
fn deployment_like_kubectl_create_deployment() {
    let labels = map(&[("app", "web".to_string())]);
    let mut container = go_container("nginx", "nginx:1.27");
    container.ports = vec![core::v1::ContainerPort {
        name: s(""),
        host_port: Some(0),
        container_port: Some(80),
        protocol: s("TCP"),
        host_ip: s(""),
    }];
    container.resources = Some(core::v1::ResourceRequirements {
        limits: map(&[("cpu", quantity("500m")), ("memory", quantity("128Mi"))]),
        requests: map(&[("cpu", quantity("250m"))]),
        claims: vec![],
    });
    let deployment = apps::v1::Deployment {
        metadata: Some(meta::ObjectMeta {
            labels: labels.clone(),
            ..go_meta("web", "default")
        }),
        spec: Some(apps::v1::DeploymentSpec {
            replicas: Some(0),
            selector: Some(meta::LabelSelector {
                match_labels: labels.clone(),
                match_expressions: vec![],
            }),
            template: Some(core::v1::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: labels.clone(),
                    ..go_meta("", "")
                }),
                spec: Some(core::v1::PodSpec {
                    containers: vec![container],
                    restart_policy: s(""),
                    dns_policy: s(""),
                    service_account_name: s(""),
                    node_name: s(""),
                    host_network: Some(false),
                    scheduler_name: s(""),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::v1::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::v1::RollingUpdateDeployment {
                    max_unavailable: Some(int(1)),
                    max_surge: Some(string("25%")),
                }),
            }),
            min_ready_seconds: Some(0),
            paused: Some(false),
            ..Default::default()
        }),
        status: Some(apps::v1::DeploymentStatus {
            observed_generation: Some(0),
            replicas: Some(0),
            ..Default::default()
        }),
    };

    // The same object through k8s-openapi's serializer: JSON names, quantities, int-or-strings.
    use k8s_openapi::api::{apps::v1 as oapps, core::v1 as ocore};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString as OIS;
    use k8s_openapi::apimachinery::pkg::{api::resource::Quantity as OQ, apis::meta::v1 as ometa};
    let olabels = Some(map(&[("app", "web".to_string())]));
    let expected = oapps::Deployment {
        metadata: ometa::ObjectMeta {
            name: s("web"),
            namespace: s("default"),
            labels: olabels.clone(),
            ..Default::default()
        },
        spec: Some(oapps::DeploymentSpec {
            replicas: Some(0),
            selector: ometa::LabelSelector {
                match_labels: olabels.clone(),
                match_expressions: None,
            },
            template: ocore::PodTemplateSpec {
                metadata: Some(ometa::ObjectMeta {
                    labels: olabels,
                    ..Default::default()
                }),
                spec: Some(ocore::PodSpec {
                    containers: vec![ocore::Container {
                        name: "nginx".into(),
                        image: s("nginx:1.27"),
                        ports: Some(vec![ocore::ContainerPort {
                            container_port: 80,
                            protocol: s("TCP"),
                            ..Default::default()
                        }]),
                        resources: Some(ocore::ResourceRequirements {
                            limits: Some(map(&[
                                ("cpu", OQ("500m".into())),
                                ("memory", OQ("128Mi".into())),
                            ])),
                            requests: Some(map(&[("cpu", OQ("250m".into()))])),
                            claims: None,
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            strategy: Some(oapps::DeploymentStrategy {
                type_: s("RollingUpdate"),
                rolling_update: Some(oapps::RollingUpdateDeployment {
                    max_unavailable: Some(OIS::Int(1)),
                    max_surge: Some(OIS::String("25%".into())),
                }),
            }),
            ..Default::default()
        }),
        status: Some(oapps::DeploymentStatus::default()),
    };
    let mut expected = serde_json::to_value(&expected).unwrap();
    // Go's JSON writes the zero creationTimestamp of a non-pointer Time as null.
    expected["metadata"]["creationTimestamp"] = Value::Null;
    expected["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
    let got = roundtrip("apps/v1", "Deployment", &deployment);
    assert_eq!(got, expected, "got {got:#}");
    assert_eq!(got["spec"]["replicas"], 0, "pointer zero kept");
    assert_eq!(got["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(
        got["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        1
    );
}

#[test]
fn service_ports_and_cluster_ip() {
    let port = |name: &str, p: i32, target: IntOrString| core::v1::ServicePort {
        name: s(name),
        protocol: s("TCP"),
        port: Some(p),
        target_port: Some(target),
        node_port: Some(0),
        app_protocol: None,
    };
    let svc = core::v1::Service {
        metadata: Some(go_meta("web", "default")),
        spec: Some(core::v1::ServiceSpec {
            ports: vec![port("http", 80, int(8080)), port("", 443, string("https"))],
            selector: map(&[("app", "web".to_string())]),
            cluster_ip: s("10.96.0.10"),
            r#type: s("ClusterIP"),
            session_affinity: s(""),
            load_balancer_ip: s(""),
            external_name: s(""),
            external_traffic_policy: s(""),
            health_check_node_port: Some(0),
            publish_not_ready_addresses: Some(false),
            ..Default::default()
        }),
        status: Some(core::v1::ServiceStatus {
            load_balancer: Some(core::v1::LoadBalancerStatus::default()),
            conditions: vec![],
        }),
    };
    assert_eq!(
        roundtrip("v1", "Service", &svc),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"protocol": "TCP", "port": 443, "targetPort": "https"},
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.96.0.10",
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        })
    );
}

#[test]
fn namespace() {
    let ns = core::v1::Namespace {
        metadata: Some(go_meta("team-a", "")),
        spec: Some(core::v1::NamespaceSpec { finalizers: vec![] }),
        status: Some(core::v1::NamespaceStatus {
            phase: s(""),
            conditions: vec![],
        }),
    };
    assert_eq!(
        roundtrip("v1", "Namespace", &ns),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "creationTimestamp": null}, "spec": {}, "status": {}})
    );
}

#[test]
fn self_subject_access_review_from_auth_can_i() {
    let review = authorization::v1::SelfSubjectAccessReview {
        metadata: Some(go_meta("", "")),
        spec: Some(authorization::v1::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(authorization::v1::ResourceAttributes {
                namespace: s("default"),
                verb: s("create"),
                group: s(""),
                version: s(""),
                resource: s("pods"),
                subresource: s(""),
                name: s(""),
                field_selector: None,
                label_selector: None,
            }),
            non_resource_attributes: None,
        }),
        status: Some(authorization::v1::SubjectAccessReviewStatus {
            allowed: Some(false),
            denied: Some(false),
            reason: s(""),
            evaluation_error: s(""),
        }),
    };
    assert_eq!(
        roundtrip(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &review
        ),
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
            // `allowed` has no omitempty in Go: it stays even when false.
            "status": {"allowed": false},
        })
    );
}

fn pod_template(restart_policy: &str) -> core::v1::PodTemplateSpec {
    core::v1::PodTemplateSpec {
        metadata: Some(go_meta("", "")),
        spec: Some(core::v1::PodSpec {
            containers: vec![go_container("main", "busybox")],
            restart_policy: s(restart_policy),
            ..Default::default()
        }),
    }
}

#[test]
fn job_and_cronjob() {
    let job_spec = batch::v1::JobSpec {
        completions: Some(3),
        backoff_limit: Some(0),
        template: Some(pod_template("Never")),
        ..Default::default()
    };
    let job = batch::v1::Job {
        metadata: Some(go_meta("once", "default")),
        spec: Some(job_spec.clone()),
        status: Some(batch::v1::JobStatus {
            active: Some(0),
            succeeded: Some(0),
            failed: Some(0),
            ..Default::default()
        }),
    };
    let template = json!({
        "metadata": {"creationTimestamp": null},
        "spec": {"containers": [{"name": "main", "image": "busybox", "resources": {}}], "restartPolicy": "Never"},
    });
    assert_eq!(
        roundtrip("batch/v1", "Job", &job),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "once", "namespace": "default", "creationTimestamp": null},
            "spec": {"completions": 3, "backoffLimit": 0, "template": template},
            "status": {},
        })
    );

    let cron = batch::v1::CronJob {
        metadata: Some(go_meta("nightly", "default")),
        spec: Some(batch::v1::CronJobSpec {
            schedule: s("0 3 * * *"),
            concurrency_policy: s(""),
            suspend: Some(false),
            successful_jobs_history_limit: Some(0),
            job_template: Some(batch::v1::JobTemplateSpec {
                metadata: Some(go_meta("nightly", "")),
                spec: Some(job_spec),
            }),
            ..Default::default()
        }),
        status: Some(batch::v1::CronJobStatus::default()),
    };
    assert_eq!(
        roundtrip("batch/v1", "CronJob", &cron),
        json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "default", "creationTimestamp": null},
            "spec": {
                "schedule": "0 3 * * *",
                "suspend": false,
                "successfulJobsHistoryLimit": 0,
                "jobTemplate": {
                    "metadata": {"name": "nightly", "creationTimestamp": null},
                    "spec": {"completions": 3, "backoffLimit": 0, "template": template},
                },
            },
            "status": {},
        })
    );
}

fn go_delete_options() -> meta::DeleteOptions {
    meta::DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: Some(meta::Preconditions {
            uid: s("abc"),
            resource_version: None,
        }),
        orphan_dependents: None,
        propagation_policy: s("Foreground"),
        dry_run: vec!["All".into()],
        ignore_store_read_error_with_cluster_breaking_potential: None,
    }
}

#[test]
fn delete_options_under_any_group_version() {
    for api_version in ["v1", "apps/v1", "batch/v1"] {
        assert_eq!(
            roundtrip(api_version, "DeleteOptions", &go_delete_options()),
            json!({
                "apiVersion": api_version,
                "kind": "DeleteOptions",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": "abc"},
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
            })
        );
    }
}

#[test]
fn eviction_from_drain() {
    let eviction = policy::v1::Eviction {
        metadata: Some(go_meta("web-123", "default")),
        delete_options: Some(go_delete_options()),
    };
    assert_eq!(
        roundtrip("policy/v1", "Eviction", &eviction),
        json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "web-123", "namespace": "default", "creationTimestamp": null},
            "deleteOptions": {
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": "abc"},
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
            },
        })
    );
}

#[test]
fn pod_with_times_probes_volumes_and_managed_fields() {
    let probe = core::v1::Probe {
        handler: Some(core::v1::ProbeHandler {
            http_get: Some(core::v1::HttpGetAction {
                path: s("/healthz"),
                port: Some(string("http")),
                host: s(""),
                scheme: s("HTTP"),
                http_headers: vec![],
            }),
            ..Default::default()
        }),
        initial_delay_seconds: Some(5),
        timeout_seconds: Some(0),
        period_seconds: Some(10),
        success_threshold: Some(0),
        failure_threshold: Some(3),
        termination_grace_period_seconds: None,
    };
    let exec_probe = core::v1::Probe {
        handler: Some(core::v1::ProbeHandler {
            exec: Some(core::v1::ExecAction {
                command: vec!["cat".into(), "/tmp/ready".into()],
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut container = go_container("app", "app:v1");
    container.liveness_probe = Some(probe);
    container.readiness_probe = Some(exec_probe);
    container.security_context = Some(core::v1::SecurityContext {
        run_as_user: Some(0),
        allow_privilege_escalation: Some(false),
        ..Default::default()
    });
    container.env = vec![core::v1::EnvVar {
        name: s("POD_NAME"),
        value: s(""),
        value_from: Some(core::v1::EnvVarSource {
            field_ref: Some(core::v1::ObjectFieldSelector {
                api_version: s("v1"),
                field_path: s("metadata.name"),
            }),
            ..Default::default()
        }),
    }];
    container.volume_mounts = vec![core::v1::VolumeMount {
        name: s("cfg"),
        read_only: Some(true),
        mount_path: s("/etc/cfg"),
        sub_path: s(""),
        ..Default::default()
    }];
    let fields = br#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}"#;
    let pod = core::v1::Pod {
        metadata: Some(meta::ObjectMeta {
            uid: s("0b6c"),
            resource_version: s("42"),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_704_164_645),
                nanos: Some(0),
            }),
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl-create"),
                operation: s("Update"),
                api_version: s("v1"),
                time: Some(meta::Time {
                    seconds: Some(1_704_164_645),
                    nanos: None,
                }),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(fields.to_vec()),
                }),
                subresource: s(""),
            }],
            ..go_meta("app", "default")
        }),
        spec: Some(core::v1::PodSpec {
            containers: vec![container],
            volumes: vec![
                core::v1::Volume {
                    name: s("cfg"),
                    volume_source: Some(core::v1::VolumeSource {
                        config_map: Some(core::v1::ConfigMapVolumeSource {
                            local_object_reference: Some(core::v1::LocalObjectReference {
                                name: s("app-config"),
                            }),
                            default_mode: Some(420),
                            optional: Some(false),
                            items: vec![],
                        }),
                        ..Default::default()
                    }),
                },
                core::v1::Volume {
                    name: s("scratch"),
                    volume_source: Some(core::v1::VolumeSource {
                        empty_dir: Some(core::v1::EmptyDirVolumeSource {
                            medium: s(""),
                            size_limit: Some(quantity("1Gi")),
                        }),
                        ..Default::default()
                    }),
                },
            ],
            automount_service_account_token: Some(false),
            termination_grace_period_seconds: Some(30),
            tolerations: vec![core::v1::Toleration {
                key: s("node.kubernetes.io/not-ready"),
                operator: s("Exists"),
                value: s(""),
                effect: s("NoExecute"),
                toleration_seconds: Some(300),
            }],
            ..Default::default()
        }),
        status: Some(core::v1::PodStatus {
            phase: s("Running"),
            start_time: Some(meta::Time {
                seconds: Some(1_704_164_646),
                nanos: Some(999_999_999),
            }),
            pod_ips: vec![core::v1::PodIp { ip: s("10.42.0.7") }],
            ..Default::default()
        }),
    };
    let got = roundtrip("v1", "Pod", &pod);
    assert_eq!(
        got,
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "app",
                "namespace": "default",
                "uid": "0b6c",
                "resourceVersion": "42",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "managedFields": [{
                    "manager": "kubectl-create",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
                }],
            },
            "spec": {
                "volumes": [
                    {"name": "cfg", "configMap": {"name": "app-config", "defaultMode": 420, "optional": false}},
                    {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
                ],
                "containers": [{
                    "name": "app",
                    "image": "app:v1",
                    "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                    "resources": {},
                    "volumeMounts": [{"name": "cfg", "readOnly": true, "mountPath": "/etc/cfg"}],
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "initialDelaySeconds": 5,
                        "periodSeconds": 10,
                        "failureThreshold": 3,
                    },
                    "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}},
                    "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false},
                }],
                "terminationGracePeriodSeconds": 30,
                "automountServiceAccountToken": false,
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            },
            "status": {
                "phase": "Running",
                "startTime": "2024-01-02T03:04:06Z",
                "podIPs": [{"ip": "10.42.0.7"}],
            },
        }),
        "got {got:#}"
    );
    // The result is a valid k8s-openapi Pod.
    let typed: k8s_openapi::api::core::v1::Pod = serde_json::from_value(got).unwrap();
    assert_eq!(
        typed.spec.unwrap().volumes.unwrap()[0]
            .config_map
            .as_ref()
            .unwrap()
            .default_mode,
        Some(420)
    );
}

#[test]
fn lease_micro_time() {
    let lease = k8s_pb::api::coordination::v1::Lease {
        metadata: Some(go_meta("node-1", "kube-node-lease")),
        spec: Some(k8s_pb::api::coordination::v1::LeaseSpec {
            holder_identity: s("node-1"),
            lease_duration_seconds: Some(40),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_704_164_645),
                nanos: Some(123_456_789),
            }),
            lease_transitions: Some(0),
            ..Default::default()
        }),
    };
    assert_eq!(
        roundtrip("coordination.k8s.io/v1", "Lease", &lease)["spec"],
        json!({"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": "2024-01-02T03:04:05.123456Z", "leaseTransitions": 0})
    );
}

#[test]
fn custom_resource_definition_schema() {
    let props = |t: &str| apiext::JsonSchemaProps {
        r#type: s(t),
        ..Default::default()
    };
    let mut spec_props = props("object");
    spec_props.properties = map(&[
        (
            "replicas",
            apiext::JsonSchemaProps {
                minimum: Some(0.0),
                maximum: Some(10.5),
                ..props("integer")
            },
        ),
        (
            "tags",
            apiext::JsonSchemaProps {
                items: Some(Box::new(apiext::JsonSchemaPropsOrArray {
                    schema: Some(Box::new(props("string"))),
                    j_son_schemas: vec![],
                })),
                ..props("array")
            },
        ),
        (
            "labels",
            apiext::JsonSchemaProps {
                additional_properties: Some(Box::new(apiext::JsonSchemaPropsOrBool {
                    allows: Some(true),
                    schema: Some(Box::new(props("string"))),
                })),
                ..props("object")
            },
        ),
        (
            "mode",
            apiext::JsonSchemaProps {
                default: Some(apiext::Json {
                    raw: Some(br#""fast""#.to_vec()),
                }),
                r#enum: vec![
                    apiext::Json {
                        raw: Some(br#""fast""#.to_vec()),
                    },
                    apiext::Json {
                        raw: Some(b"null".to_vec()),
                    },
                ],
                ..props("string")
            },
        ),
        (
            "free",
            apiext::JsonSchemaProps {
                x_kubernetes_preserve_unknown_fields: Some(true),
                additional_properties: Some(Box::new(apiext::JsonSchemaPropsOrBool {
                    allows: Some(false),
                    schema: None,
                })),
                ..props("object")
            },
        ),
    ]);
    spec_props.required = vec!["replicas".into()];
    let root = apiext::JsonSchemaProps {
        properties: map(&[("spec", spec_props)]),
        ..props("object")
    };
    let crd = apiext::CustomResourceDefinition {
        metadata: Some(go_meta("widgets.example.com", "")),
        spec: Some(apiext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(apiext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                singular: s("widget"),
                kind: s("Widget"),
                list_kind: s(""),
                short_names: vec![],
                categories: vec![],
            }),
            scope: s("Namespaced"),
            versions: vec![apiext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                deprecated: Some(false),
                schema: Some(apiext::CustomResourceValidation {
                    open_apiv3_schema: Some(root),
                }),
                ..Default::default()
            }],
            preserve_unknown_fields: Some(false),
            ..Default::default()
        }),
        status: None,
    };
    let got = roundtrip("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd);
    assert_eq!(
        got["spec"],
        json!({
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "required": ["replicas"],
                        "properties": {
                            "free": {"type": "object", "additionalProperties": false, "x-kubernetes-preserve-unknown-fields": true},
                            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "mode": {"type": "string", "default": "fast", "enum": ["fast", null]},
                            "replicas": {"type": "integer", "maximum": 10.5, "minimum": 0.0},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                    }},
                }},
            }],
        }),
        "got {:#}",
        got["spec"]
    );
    let _: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_json::from_value(got).unwrap();
}

#[test]
fn unknown_fields_are_skipped() {
    let cm = core::v1::ConfigMap {
        metadata: Some(go_meta("cfg", "")),
        ..Default::default()
    };
    let mut raw = cm.encode_to_vec();
    // Field 99 of every wire type the decoder knows: varint, fixed64, bytes, fixed32.
    raw.extend([0x98, 0x06, 0x01]);
    raw.extend([0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    raw.extend([0x9a, 0x06, 0x02, b'h', b'i']);
    raw.extend([0x9d, 0x06, 1, 2, 3, 4]);
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("ConfigMap"),
        }),
        raw: Some(raw),
        content_encoding: None,
        content_type: None,
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    let (_, _, got) = decode(&body).unwrap();
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "creationTimestamp": null}})
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let err = decode(b"{\"kind\":\"ConfigMap\"}").unwrap_err();
    assert_eq!(err, DecodeError::BadMagic);
    assert!(err.to_string().contains("k8s\\x00"), "{err}");

    let widget = envelope("example.com/v1", "Widget", &core::v1::ConfigMap::default());
    let err = decode(&widget).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownKind { .. }));
    assert!(
        err.to_string().contains("\"Widget\"") && err.to_string().contains("application/json"),
        "{err}"
    );

    assert_eq!(decode(b"k8s\0").unwrap_err(), DecodeError::MissingTypeMeta);

    let gz = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("ConfigMap"),
        }),
        raw: Some(vec![]),
        content_encoding: s("gzip"),
        content_type: None,
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(gz.encode_to_vec());
    assert_eq!(
        decode(&body).unwrap_err(),
        DecodeError::UnsupportedEncoding("gzip".into())
    );

    // A string where a number belongs, reported with its path.
    let mut svc = core::v1::Service {
        metadata: Some(go_meta("x", "")),
        ..Default::default()
    };
    svc.spec = Some(core::v1::ServiceSpec {
        ports: vec![core::v1::ServicePort {
            port: Some(1),
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut raw = svc.encode_to_vec();
    let spec_pos = raw.iter().rposition(|&b| b == 0x12).unwrap();
    // Corrupt the port's key (tag 3 varint = 0x18) into tag 3 length-delimited (0x1a).
    let port_key = raw[spec_pos..].iter().position(|&b| b == 0x18).unwrap() + spec_pos;
    raw[port_key] = 0x1a;
    let body = {
        let u = Unknown {
            type_meta: Some(TypeMeta {
                api_version: s("v1"),
                kind: s("Service"),
            }),
            raw: Some(raw),
            content_encoding: None,
            content_type: None,
        };
        let mut b = b"k8s\0".to_vec();
        b.extend(u.encode_to_vec());
        b
    };
    let err = decode(&body).unwrap_err();
    assert!(err.to_string().contains("spec.ports[0].port"), "{err}");
}

/// Every prefix of a valid body, and bytes flipped anywhere, give an error or a value, never a
/// panic; a truncated body is never mistaken for a complete one when the cut is inside a field.
#[test]
fn truncated_and_garbage_input_never_panics() {
    let mut cm = core::v1::ConfigMap {
        metadata: Some(go_meta("cfg", "default")),
        ..Default::default()
    };
    cm.data = map(&[("k", "v".to_string())]);
    let bodies = [
        envelope("v1", "ConfigMap", &cm),
        envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &authorization::v1::SelfSubjectAccessReview::default(),
        ),
        envelope(
            "policy/v1",
            "Eviction",
            &policy::v1::Eviction {
                metadata: Some(go_meta("p", "d")),
                delete_options: Some(go_delete_options()),
            },
        ),
    ];
    for body in &bodies {
        assert!(decode(body).is_ok());
        for cut in 0..body.len() {
            let _ = decode(&body[..cut]);
        }
        // The outer length says more bytes follow than there are.
        let err = decode(&body[..body.len() - 1]).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }), "{err}");
        for i in 4..body.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = body.clone();
                bad[i] ^= flip;
                let _ = decode(&bad);
            }
        }
    }
    // Pseudo-random garbage after the magic.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let mut body = b"k8s\0".to_vec();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 64) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            body.push(state as u8);
        }
        let _ = decode(&body);
    }
}

#[test]
fn deep_nesting_is_refused() {
    // JSONSchemaProps.not (tag 28, key 0xe2 0x01) nested 10,000 levels deep.
    let mut schema: Vec<u8> = vec![];
    for _ in 0..10_000 {
        let mut outer = vec![0xe2, 0x01];
        push_len(&mut outer, schema.len());
        outer.extend(&schema);
        schema = outer;
    }
    // CustomResourceDefinition{2: spec{7: versions[{1: "v1", 4: validation{1: schema}}]}}.
    let validation = wrap(1, &schema);
    let version = [vec![0x0a, 0x02, b'v', b'1'], wrap(4, &validation)].concat();
    let raw = wrap(2, &wrap(7, &version));
    let u = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("apiextensions.k8s.io/v1"),
            kind: s("CustomResourceDefinition"),
        }),
        raw: Some(raw),
        content_encoding: None,
        content_type: None,
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(u.encode_to_vec());
    let err = decode(&body).unwrap_err();
    assert!(err.to_string().contains("nest deeper"), "{err}");
    assert!(
        err.to_string()
            .contains("spec.versions[0].schema.openAPIV3Schema.not.not"),
        "{err}"
    );
}

/// A length-delimited field `tag` holding `payload`.
fn wrap(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![tag << 3 | 2];
    push_len(&mut out, payload.len());
    out.extend(payload);
    out
}

fn push_len(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}
