//! End-to-end with the real kubectl: what upstream v1.33 answers to strategic merge patches it
//! cannot apply (the apimachinery merge's own errors, passed on as 500s; malformed directives
//! as 400s; values of the wrong shape as a 422 quoting the patch), and Services changing to and
//! from type ExternalName (a cluster IP is allocated, then given back).

use rkube_testkit::TestServer;
use std::path::Path;

fn bare_server() -> TestServer {
    TestServer::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-controllers", "--disable-scheduler"],
    )
    .expect("starting rkube server")
}

/// `kubectl patch pod p -p <patch>` must fail with exactly `message` on stderr.
fn patch_fails(s: &TestServer, patch: &str, message: &str) {
    let out = s.kubectl(&["patch", "pod", "p", "-p", patch]);
    assert!(!out.success, "patch {patch} was accepted:\n{}", out.all());
    assert_eq!(out.stderr.trim_end(), message, "patch {patch}");
}

#[test]
fn strategic_merge_patch_errors_read_as_upstreams() {
    let s = bare_server();
    let run = s.kubectl(&["run", "p", "--image=nginx", "--labels=a=b"]);
    assert!(run.success, "{}", run.all());

    // The merge replaces a value of another type; converting to the Pod then fails.
    patch_fails(
        &s,
        r#"{"metadata":{"labels":"invalid"}}"#,
        r#"The request is invalid: patch: Invalid value: "map[metadata:map[labels:invalid]]": cannot restore map from string"#,
    );
    patch_fails(
        &s,
        r#"{"spec":{"containers":{"name":"p"}}}"#,
        r#"The request is invalid: patch: Invalid value: "map[spec:map[containers:map[name:p]]]": cannot restore slice from map"#,
    );
    // The merge's own errors.
    patch_fails(
        &s,
        r#"{"spec":{"containers":[{"image":"x"}]}}"#,
        "Error from server: map: map[image:x] does not contain declared merge key: name",
    );
    patch_fails(
        &s,
        r#"{"spec":{"containers":[{"name":"p","$patch":"bogus"}]}}"#,
        "Error from server: unknown patch type: bogus in map: map[$patch:bogus name:p]",
    );
    patch_fails(
        &s,
        r#"{"metadata":{"labels":{"$patch":"bogus","x":"y"}}}"#,
        "Error from server: unknown patch type: bogus in map: map[$patch:bogus x:y]",
    );
    patch_fails(
        &s,
        r#"{"spec":{"containers":[{"name":"p","$patch":"merge"}]}}"#,
        "Error from server: merging lists cannot yet be specified in the patch",
    );
    patch_fails(
        &s,
        r#"{"spec":{"$retainKeys":"x"}}"#,
        "Error from server (BadRequest): invalid patch format of retainKeys",
    );
    // Nothing was changed by the failed patches.
    let labels = s.kubectl(&["get", "pod", "p", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels.stdout, r#"{"a":"b"}"#);
}

fn jsonpath(s: &TestServer, svc: &str, path: &str) -> String {
    let out = s.kubectl(&["get", "service", svc, "-o", &format!("jsonpath={path}")]);
    assert!(out.success, "{}", out.all());
    out.stdout
}

#[test]
fn external_name_services_get_and_give_back_cluster_ips() {
    let s = bare_server();
    let created = s.kubectl(&[
        "create",
        "service",
        "externalname",
        "ext",
        "--external-name=example.com",
    ]);
    assert!(created.success, "{}", created.all());
    assert_eq!(jsonpath(&s, "ext", "{.spec.clusterIP}"), "");

    let to_cluster_ip = s.kubectl(&[
        "patch",
        "service",
        "ext",
        "-p",
        r#"{"spec":{"type":"ClusterIP","externalName":null,"ports":[{"port":80}]}}"#,
    ]);
    assert!(to_cluster_ip.success, "{}", to_cluster_ip.all());
    let ip = jsonpath(&s, "ext", "{.spec.clusterIP}");
    assert!(
        ip.parse::<std::net::Ipv4Addr>().is_ok(),
        "a cluster IP was allocated: {ip:?}"
    );
    assert_eq!(
        jsonpath(&s, "ext", "{.spec.clusterIPs}"),
        format!("[\"{ip}\"]")
    );
    assert_eq!(jsonpath(&s, "ext", "{.spec.ipFamilies}"), r#"["IPv4"]"#);
    assert_eq!(jsonpath(&s, "ext", "{.spec.ipFamilyPolicy}"), "SingleStack");

    // The address is taken while the Service holds it.
    let clash = s.kubectl(&[
        "create",
        "service",
        "clusterip",
        "other",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ]);
    assert!(!clash.success, "{}", clash.all());
    assert!(
        clash.stderr.contains(&format!(
            "failed to allocate IP {ip}: provided IP is already allocated"
        )),
        "{}",
        clash.all()
    );

    let back = s.kubectl(&[
        "patch",
        "service",
        "ext",
        "-p",
        r#"{"spec":{"type":"ExternalName","externalName":"example.com","ports":null}}"#,
    ]);
    assert!(back.success, "{}", back.all());
    assert_eq!(jsonpath(&s, "ext", "{.spec.clusterIP}"), "");
    assert_eq!(jsonpath(&s, "ext", "{.spec.ipFamilies}"), "");
    let reuse = s.kubectl(&[
        "create",
        "service",
        "clusterip",
        "other",
        "--tcp=80",
        &format!("--clusterip={ip}"),
    ]);
    assert!(reuse.success, "the address was given back: {}", reuse.all());
}
