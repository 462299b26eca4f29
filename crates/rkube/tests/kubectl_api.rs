//! End-to-end: the real kubectl against a real `rkube server`, checking what a user sees.

use rkube_testkit::TestServer;
use std::io::Read;
use std::time::Duration;

fn server() -> TestServer {
    TestServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_rkube")))
        .expect("starting rkube server")
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, labels: {app: web, tier: front}}\ndata: {color: blue}\n";

#[test]
fn cluster_starts_with_system_namespaces_and_the_kubernetes_service() {
    let s = server();
    let ns = s.kubectl(&["get", "namespaces", "-o", "name"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            ns.stdout.contains(&format!("namespace/{n}\n")),
            "{}",
            ns.all()
        );
    }
    let svc = s.kubectl(&[
        "get",
        "service",
        "kubernetes",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert_eq!(svc.stdout, "10.96.0.1", "{}", svc.all());
    let v = s.kubectl(&["version", "-o", "json"]);
    assert!(v.stdout.contains("\"gitVersion\": \"v1.33."), "{}", v.all());
}

#[test]
fn apply_get_select_replace_delete() {
    let s = server();
    let out = s.kubectl_stdin(&["apply", "-f", "-"], Some(CM));
    assert_eq!(
        out.stdout.trim(),
        "configmap/web-config created",
        "{}",
        out.all()
    );
    let out = s.kubectl_stdin(&["apply", "-f", "-"], Some(CM));
    assert_eq!(
        out.stdout.trim(),
        "configmap/web-config unchanged",
        "{}",
        out.all()
    );

    let yaml = s.kubectl(&["get", "configmap", "web-config", "-o", "yaml"]);
    assert!(yaml.stdout.contains("  color: blue"), "{}", yaml.all());
    assert!(yaml.stdout.contains("  uid: "), "{}", yaml.all());
    assert!(
        yaml.stdout.contains("  resourceVersion: "),
        "{}",
        yaml.all()
    );

    let sel = |q: &str| {
        s.kubectl(&["get", "configmap", "-l", q, "-o", "name"])
            .stdout
    };
    assert_eq!(sel("app=web"), "configmap/web-config\n");
    // `!=` also matches objects without the label, like the namespace's kube-root-ca.crt.
    assert_eq!(sel("app!=web"), "configmap/kube-root-ca.crt\n");
    assert_eq!(sel("tier in (front,back)"), "configmap/web-config\n");
    assert_eq!(sel("!tier"), "configmap/kube-root-ca.crt\n");
    let by_field = s.kubectl(&[
        "get",
        "configmap",
        "--field-selector",
        "metadata.name=web-config",
        "-o",
        "name",
    ]);
    assert_eq!(
        by_field.stdout,
        "configmap/web-config\n",
        "{}",
        by_field.all()
    );

    // A replace with a stale resourceVersion is a conflict, with upstream's message.
    let stale = s
        .kubectl(&["get", "configmap", "web-config", "-o", "json"])
        .stdout;
    let bump = s.kubectl(&["label", "configmap", "web-config", "bump=1"]);
    assert!(bump.success, "{}", bump.all());
    let out = s.kubectl_stdin(&["replace", "-f", "-"], Some(&stale));
    assert!(!out.success);
    assert!(out.stderr.contains("the object has been modified; please apply your changes to the latest version and try again"), "{}", out.all());

    let out = s.kubectl(&["delete", "configmap", "web-config"]);
    assert_eq!(
        out.stdout.trim(),
        "configmap \"web-config\" deleted",
        "{}",
        out.all()
    );
    let out = s.kubectl(&["get", "configmap", "web-config"]);
    assert!(
        out.stderr.contains("configmaps \"web-config\" not found"),
        "{}",
        out.all()
    );
}

#[test]
fn errors_are_upstreams_status_messages() {
    let s = server();
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n"),
    );
    assert!(
        out.stderr.contains(
            "is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        ),
        "{}",
        out.all()
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(CM));
    assert!(out.success, "{}", out.all());
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(CM));
    assert!(
        out.stderr
            .contains("configmaps \"web-config\" already exists"),
        "{}",
        out.all()
    );
    let out = s.kubectl(&["get", "frobnicators"]);
    assert!(
        out.stderr
            .contains("the server doesn't have a resource type \"frobnicators\""),
        "{}",
        out.all()
    );
    let out = s.kubectl(&["get", "configmaps", "--field-selector", "foo=bar"]);
    assert!(
        out.stderr.contains("\"foo\" is not a known field selector"),
        "{}",
        out.all()
    );
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n"),
    );
    assert!(
        out.stderr.contains("spec.containers: Required value"),
        "{}",
        out.all()
    );
}

#[test]
fn watch_prints_the_object_then_its_changes() {
    let s = server();
    assert!(s.kubectl_stdin(&["create", "-f", "-"], Some(CM)).success);
    let mut child = s.kubectl_background(&["get", "configmap", "web-config", "-w", "-o", "name"]);
    std::thread::sleep(Duration::from_secs(1));
    for i in 0..3 {
        let out = s.kubectl(&[
            "label",
            "configmap",
            "web-config",
            &format!("round={i}"),
            "--overwrite",
        ]);
        assert!(out.success, "{}", out.all());
    }
    std::thread::sleep(Duration::from_secs(1));
    let _ = child.kill();
    let _ = child.wait();
    let mut printed = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut printed)
        .expect("reading watch output");
    assert_eq!(
        printed.matches("configmap/web-config").count(),
        4,
        "watch printed:\n{printed}"
    );
}

#[test]
fn restart_keeps_every_object() {
    let mut s = server();
    for i in 0..5 {
        let out = s.kubectl(&[
            "create",
            "namespace",
            &format!("keep-{i}"),
            "--dry-run=client",
            "-o",
            "yaml",
        ]);
        let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&out.stdout));
        assert!(out.success, "{}", out.all());
    }
    s.restart().expect("restarting");
    let out = s.kubectl(&["get", "namespaces", "-o", "name"]);
    for i in 0..5 {
        assert!(
            out.stdout.contains(&format!("namespace/keep-{i}\n")),
            "{}",
            out.all()
        );
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut s = server();
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ack-{i}}}\ndata: {{n: \"{i}\"}}\n"
        );
        if s.kubectl_stdin(&["create", "-f", "-"], Some(&cm)).success {
            acknowledged.push(format!("configmap/ack-{i}"));
        }
    }
    s.kill9();
    s.start_again().expect("starting after kill -9");
    let out = s.kubectl(&["get", "configmaps", "-o", "name"]);
    for name in &acknowledged {
        assert!(
            out.stdout.contains(&format!("{name}\n")),
            "{name} lost after kill -9: {}",
            out.all()
        );
    }
    assert_eq!(acknowledged.len(), 20);
}

#[test]
fn requests_without_credentials_are_refused_but_health_is_public() {
    let s = server();
    let curl = |path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-sk", &format!("{}{path}", s.url())])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl("/healthz"), "ok");
    assert!(curl("/version").contains("\"gitVersion\""));
    let body = curl("/api/v1/namespaces");
    assert!(
        body.contains("\"code\":403") && body.contains("system:anonymous"),
        "{body}"
    );
}

#[test]
fn kubernetes_endpoints_publish_the_advertised_address() {
    // A documentation-range address: only published, never dialled.
    let s = TestServer::start_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--node-ip", "198.51.100.7"],
    )
    .expect("starting rkube server");
    let ep = s.kubectl(&[
        "get",
        "endpoints",
        "kubernetes",
        "-n",
        "default",
        "-o",
        "jsonpath={.subsets[0].addresses[0].ip} {.subsets[0].ports[0].name}",
    ]);
    assert_eq!(ep.stdout, "198.51.100.7 https", "{}", ep.all());
    let slice = s.kubectl(&[
        "get",
        "endpointslices",
        "kubernetes",
        "-n",
        "default",
        "-o",
        "jsonpath={.endpoints[0].addresses[0]}",
    ]);
    assert_eq!(slice.stdout, "198.51.100.7", "{}", slice.all());
}
