//! End-to-end: `kubectl get componentstatuses` against rkube, as against upstream v1.33: the
//! deprecated core v1 resource probed on request (scheduler, controller manager, store), with
//! upstream's Table columns, deprecation warning and refusals.

use rkube_testkit::TestServer;
use std::path::Path;

const WARNING: &str = "Warning: v1 ComponentStatus is deprecated in v1.19+";

/// The table's cells, split on whitespace (an empty ERROR cell leaves a row one shorter).
fn rows(table: &str) -> Vec<Vec<&str>> {
    table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}

#[test]
fn get_cs_reports_in_process_components_healthy() {
    let s = TestServer::start(Path::new(env!("CARGO_BIN_EXE_rkube"))).expect("starting rkube");

    let out = s.kubectl(&["get", "componentstatuses"]);
    assert!(out.success, "{}", out.all());
    assert_eq!(
        rows(&out.stdout),
        [
            vec!["NAME", "STATUS", "MESSAGE", "ERROR"],
            vec!["scheduler", "Healthy", "ok"],
            vec!["controller-manager", "Healthy", "ok"],
            vec!["etcd-0", "Healthy", "ok"],
        ]
    );
    assert!(out.stderr.contains(WARNING), "{}", out.all());

    // The short name, one object by name, as YAML.
    let out = s.kubectl(&["get", "cs", "scheduler", "-o", "yaml"]);
    assert!(out.success, "{}", out.all());
    assert_eq!(
        out.stdout,
        "apiVersion: v1\nconditions:\n- message: ok\n  status: \"True\"\n  type: Healthy\n\
         kind: ComponentStatus\nmetadata:\n  creationTimestamp: null\n  name: scheduler\n"
    );
    assert!(out.stderr.contains(WARNING), "{}", out.all());

    let out = s.kubectl(&[
        "get",
        "cs",
        "--field-selector",
        "metadata.name=etcd-0",
        "-o",
        "name",
    ]);
    assert_eq!(out.stdout, "componentstatus/etcd-0\n", "{}", out.all());

    let out = s.kubectl(&["get", "cs", "--field-selector", "status.phase=x"]);
    assert!(
        out.stderr.contains(
            "field selector \"status.phase=x\": \"status.phase\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        ),
        "{}",
        out.all()
    );

    // An unknown component is upstream's reason-less 500.
    let out = s.kubectl(&["get", "cs", "nope"]);
    assert!(!out.success);
    assert!(
        out.stderr
            .contains("Error from server: Component not found: nope"),
        "{}",
        out.all()
    );

    // Only get and list: writes are refused with upstream's 405.
    let refused = "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource";
    let out = s.kubectl(&["delete", "cs", "scheduler"]);
    assert!(!out.success);
    assert!(out.stderr.contains(refused), "{}", out.all());
    let manifest =
        "apiVersion: v1\nkind: ComponentStatus\nmetadata:\n  name: mine\nconditions: []\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(manifest));
    assert!(!out.success);
    assert!(
        out.stderr.contains("Error from server (MethodNotAllowed): error when creating \"STDIN\": the server does not allow this method on the requested resource"),
        "{}",
        out.all()
    );
    let raw = s.kubectl(&["get", "--raw", "/api/v1/componentstatuses?watch=true"]);
    assert!(!raw.success, "{}", raw.all());
}

#[test]
fn disabled_components_are_reported_as_upstream_reports_unreachable_ones() {
    let s = TestServer::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-scheduler", "--disable-controllers"],
    )
    .expect("starting rkube");
    let out = s.kubectl(&["get", "cs"]);
    assert!(out.success, "{}", out.all());
    let text = out.stdout;
    for (name, port) in [("scheduler", 10259), ("controller-manager", 10257)] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row in\n{text}"));
        let want = format!(
            "Unhealthy Get \"https://127.0.0.1:{port}/healthz\": dial tcp 127.0.0.1:{port}: connect: connection refused"
        );
        assert!(
            line.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .ends_with(&want),
            "{line}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["etcd-0", "Healthy", "ok"]),
        "{text}"
    );

    let out = s.kubectl(&[
        "get",
        "cs",
        "scheduler",
        "-o",
        "jsonpath={.conditions[0].status}",
    ]);
    assert_eq!(out.stdout, "Unknown", "{}", out.all());
}
