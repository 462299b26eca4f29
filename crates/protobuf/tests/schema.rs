//! The generated schema is consistent, covers the kinds kubectl sends as protobuf, and is what
//! the generator makes from the crates in the registry today.

use rkube_protobuf::schema::{KINDS, MESSAGES};
use rkube_protobuf::wire::{Kind, Special};
use rkube_protobuf::{decode, message_for};
use std::collections::HashSet;

#[test]
fn kinds_kubectl_sends_are_decodable() {
    for (api_version, kind) in [
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Namespace"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("v1", "Pod"),
        ("v1", "Binding"),
        ("v1", "ResourceQuota"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("autoscaling/v1", "Scale"),
        ("autoscaling/v1", "HorizontalPodAutoscaler"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "Eviction"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "Ingress"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
        ("authentication.k8s.io/v1", "TokenRequest"),
        ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("certificates.k8s.io/v1", "CertificateSigningRequest"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
        ),
        ("storage.k8s.io/v1", "StorageClass"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("coordination.k8s.io/v1", "Lease"),
        ("events.k8s.io/v1", "Event"),
        ("node.k8s.io/v1", "RuntimeClass"),
        ("v1", "DeleteOptions"),
        ("storage.k8s.io/v1", "DeleteOptions"),
    ] {
        assert!(
            message_for(api_version, kind).is_some(),
            "{api_version} {kind}"
        );
        // An empty object of every kind decodes.
        let mut body = b"k8s\0\x0a".to_vec();
        let tm = [
            &[0x0a, api_version.len() as u8][..],
            api_version.as_bytes(),
            &[0x12, kind.len() as u8],
            kind.as_bytes(),
        ]
        .concat();
        body.push(tm.len() as u8);
        body.extend(tm);
        let (_, _, value) = decode(&body).unwrap();
        assert_eq!(value["kind"], kind);
    }
    assert!(message_for("v1", "Widget").is_none());
    assert!(message_for("apps/v1beta1", "Deployment").is_none());
}

#[test]
fn schema_is_consistent() {
    let mut seen = HashSet::new();
    for w in KINDS.windows(2) {
        assert!(
            (w[0].0, w[0].1) < (w[1].0, w[1].1),
            "KINDS not sorted at {:?}",
            w[1]
        );
    }
    for message in MESSAGES {
        assert!(seen.insert(message.name), "duplicate {}", message.name);
        let mut tags = HashSet::new();
        let mut names = HashSet::new();
        for w in message.fields.windows(2) {
            assert!(w[0].tag < w[1].tag, "{} fields not sorted", message.name);
        }
        for field in message.fields {
            assert!(tags.insert(field.tag));
            if let Kind::Message(i) | Kind::MapMessage(i) = field.kind {
                assert!(usize::from(i) < MESSAGES.len());
            }
            if field.inline {
                assert!(field.json.is_empty() && matches!(field.kind, Kind::Message(_)));
            } else if message.special == Special::None {
                assert!(
                    names.insert(field.json),
                    "{}.{} twice",
                    message.name,
                    field.json
                );
                assert!(
                    !field.json.contains('_'),
                    "{}.{} is not a JSON name",
                    message.name,
                    field.json
                );
            }
        }
    }
    for window in MESSAGES.windows(2) {
        assert!(window[0].name < window[1].name);
    }
    // Spot checks of names naive camel-casing gets wrong.
    let service_spec = MESSAGES
        .iter()
        .find(|m| m.name == "k8s.io.api.core.v1.ServiceSpec")
        .unwrap();
    let names: Vec<_> = service_spec.fields.iter().map(|f| f.json).collect();
    for n in ["clusterIP", "clusterIPs", "externalIPs", "loadBalancerIP"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let status = MESSAGES
        .iter()
        .find(|m| m.name == "k8s.io.api.core.v1.PodStatus")
        .unwrap();
    assert!(
        status.fields.iter().any(|f| f.json == "podIPs")
            && status.fields.iter().any(|f| f.json == "hostIP")
    );
}

/// Runs tools/gen_protobuf_schema.py and compares its output with the committed schema.rs.
/// Skipped where python3 is missing.
#[test]
fn schema_is_what_the_generator_makes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("rkube-protobuf-schema-{}.rs", std::process::id()));
    let status = std::process::Command::new("python3")
        .arg(root.join("tools/gen_protobuf_schema.py"))
        .arg("--out")
        .arg(&out)
        .current_dir(&root)
        .stderr(std::process::Stdio::null())
        .status();
    let Ok(status) = status else {
        eprintln!("python3 not found: skipped");
        return;
    };
    assert!(status.success(), "generator failed");
    let fresh = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let committed = include_str!("../src/schema.rs");
    assert!(
        fresh == committed,
        "crates/protobuf/src/schema.rs is stale: run python3 tools/gen_protobuf_schema.py"
    );
}
