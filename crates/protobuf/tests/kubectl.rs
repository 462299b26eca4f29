//! Bodies captured from the real kubectl 1.33 (`tests/kubectl/*.pb`: kubectl pointed at a
//! loopback server that saved each POST body), decoded and compared with the JSON the same
//! kubectl prints for the same command with `--dry-run=client -o json` (`tests/kubectl/*.json`):
//! Go's own JSON form of the object it sent.
//!
//! Commands (namespace default):
//! configmap: `create configmap cfg --from-literal=a=1 --from-literal=empty= --from-file=bin=bin.dat` (bytes 00 01 02 ff)
//! secret: `create secret generic creds --from-literal=password=hunter2 --from-literal=blank=`
//! secret-tls-like: `create secret docker-registry regcred --docker-server=r.example.com --docker-username=u --docker-password=p`
//! deployment: `create deployment web --image=nginx:1.27 --replicas=0 --port=80`
//! deployment-cmd: `create deployment busy --image=busybox -- sleep 3600`
//! service-*: `create service clusterip web --tcp=80:8080 --tcp=443:https`, `clusterip headless --clusterip=None`,
//!   `nodeport np --tcp=80:8080 --node-port=30080`, `externalname ext --external-name=example.com`
//! namespace: `create namespace team-a`; serviceaccount: `create serviceaccount sa`
//! job: `create job once --image=busybox -- echo hi`; cronjob: `create cronjob nightly --image=busybox --schedule="0 3 * * *" -- date`
//! clusterrole: `create clusterrole agg --aggregation-rule=rbac.example.com/aggregate=true`
//! rolebinding: `create rolebinding rb --role=pod-reader --user=alice --group=devs --serviceaccount=default:sa`
//! clusterrolebinding: `create clusterrolebinding crb --clusterrole=view --user=bob`
//! quota: `create quota q --hard=cpu=1,memory=1G,pods=10 --scopes=NotTerminating`
//! priorityclass: `create priorityclass high --value=1000 --global-default=false --description=important --preemption-policy=Never`
//! pdb: `create poddisruptionbudget pdb --selector=app=web --min-available=50%`
//! ingress: `create ingress ing --class=nginx --rule=foo.com/bar*=svc:8080,tls=secret`
//! token: `create token sa --duration=1h --audience=api`
//! can-i: `auth can-i create pods`; can-i-nonresource: `auth can-i get /healthz`

use rkube_protobuf::{decode, is_protobuf};
use serde_json::{Value, json};
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kubectl")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn kubectl_create_bodies_decode_to_kubectls_own_json() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubectl");
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap();
        let expected: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let (api_version, kind, got) =
            decode(&fixture(&format!("{name}.pb"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(api_version, expected["apiVersion"], "{name}");
        assert_eq!(kind, expected["kind"], "{name}");
        // Go writes `null` for a nil slice without omitempty (ClusterRole's `rules`); a decoder
        // cannot tell those from omitempty ones, and null and absent read the same.
        assert_eq!(
            without_nulls(&got),
            without_nulls(&expected),
            "{name}: got {got:#}"
        );
        compared += 1;
    }
    assert_eq!(compared, 20);
}

/// The value with every `null` object member removed, at any depth.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

#[test]
fn kubectl_create_token() {
    let (_, _, got) = decode(&fixture("token.pb")).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {"creationTimestamp": null},
            "spec": {"audiences": ["api"], "expirationSeconds": 3600},
            // `token` has no omitempty in Go, so its empty value stays.
            "status": {"token": "", "expirationTimestamp": null},
        })
    );
}

#[test]
fn kubectl_auth_can_i() {
    let (_, _, got) = decode(&fixture("can-i.pb")).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
            "status": {"allowed": false},
        })
    );
    let (_, _, got) = decode(&fixture("can-i-nonresource.pb")).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": null},
            "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
            "status": {"allowed": false},
        })
    );
}

#[test]
fn kubectl_content_type() {
    // What kubectl 1.33 sent with these bodies.
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
}
