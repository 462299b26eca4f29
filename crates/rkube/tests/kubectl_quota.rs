//! End-to-end: the books' quota and limit commands with the real kubectl against `rkube
//! server` (controllers running): `kubectl describe quota|limits`, `kubectl get quota`, and
//! quota refusals as kubectl prints them.

use rkube_testkit::TestServer;
use std::path::Path;
use std::time::{Duration, Instant};

fn server() -> TestServer {
    TestServer::start(Path::new(env!("CARGO_BIN_EXE_rkube"))).expect("starting rkube server")
}

fn ok(s: &TestServer, args: &[&str]) -> String {
    let out = s.kubectl(args);
    assert!(out.success, "kubectl {args:?} failed:\n{}", out.all());
    out.stdout
}

fn ok_stdin(s: &TestServer, args: &[&str], input: &str) -> String {
    let out = s.kubectl_stdin(args, Some(input));
    assert!(out.success, "kubectl {args:?} failed:\n{}", out.all());
    out.stdout
}

/// Lines split on whitespace (column widths depend on the content).
fn cells(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// `rows` with the table's body (after the header's four lines) in order.
fn rows_sorted(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    if rows.len() > 4 {
        rows[4..].sort();
    }
    rows
}

/// Run `args` until `check` accepts the output (the controllers work asynchronously).
fn until(s: &TestServer, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = ok(s, args);
        if check(&out) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {args:?} never matched:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

const QUOTA: &str = "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: compute-quota, namespace: tenant}\n\
spec:\n  hard: {pods: \"2\", requests.cpu: \"1\", requests.memory: 20Mi, limits.cpu: \"2\", limits.memory: 2Gi}\n";

const COUNTS: &str = "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: object-counts, namespace: tenant}\n\
spec:\n  hard: {configmaps: \"10\", services.nodeports: \"0\"}\n";

const LIMITS: &str = "apiVersion: v1\nkind: LimitRange\nmetadata: {name: limits, namespace: tenant}\n\
spec:\n  limits:\n  - type: Container\n    default: {cpu: 200m, memory: 6Mi}\n    defaultRequest: {cpu: 100m, memory: 5Mi}\n";

#[test]
fn describe_and_get_show_quota_usage_and_limit_defaults() {
    let s = server();
    ok(&s, &["create", "namespace", "tenant"]);
    ok_stdin(&s, &["create", "-f", "-"], QUOTA);
    ok_stdin(&s, &["create", "-f", "-"], COUNTS);
    until(
        &s,
        &["describe", "quota", "compute-quota", "-n", "tenant"],
        |o| o.contains("pods             0     2"),
    );

    // Without limits the pod is refused, in the quota's words.
    let out = s.kubectl(&["run", "nginx", "--image=nginx", "-n", "tenant"]);
    assert!(!out.success);
    assert_eq!(
        out.stderr.trim(),
        "Error from server (Forbidden): pods \"nginx\" is forbidden: failed quota: compute-quota: \
         must specify limits.cpu for: nginx; limits.memory for: nginx; requests.cpu for: nginx; requests.memory for: nginx"
    );

    ok_stdin(&s, &["create", "-f", "-"], LIMITS);
    // kubectl prints a range's resources in Go map order, which varies from run to run.
    assert_eq!(
        rows_sorted(cells(&ok(
            &s,
            &["describe", "limits", "limits", "-n", "tenant"]
        ))),
        rows_sorted(cells(
            "Name:       limits\nNamespace:  tenant\n\
             Type        Resource  Min  Max  Default Request  Default Limit  Max Limit/Request Ratio\n\
             ----        --------  ---  ---  ---------------  -------------  -----------------------\n\
             Container   cpu       -    -    100m             200m           -\n\
             Container   memory    -    -    5Mi              6Mi            -\n"
        ))
    );
    // The watch cache may take a moment to show the new range to admission.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s
        .kubectl(&["run", "nginx", "--image=nginx", "-n", "tenant"])
        .success
    {
        assert!(Instant::now() < deadline, "the pod was never admitted");
        std::thread::sleep(Duration::from_millis(100));
    }
    let described = until(
        &s,
        &["describe", "quota", "compute-quota", "-n", "tenant"],
        |o| o.contains("pods             1     2"),
    );
    assert_eq!(
        cells(&described),
        cells(
            "Name:            compute-quota\nNamespace:       tenant\n\
             Resource         Used  Hard\n--------         ----  ----\n\
             limits.cpu       200m  2\nlimits.memory    6Mi   2Gi\npods             1     2\n\
             requests.cpu     100m  1\nrequests.memory  5Mi   20Mi\n"
        )
    );
    let table = cells(&ok(&s, &["get", "quota", "-n", "tenant"]));
    assert_eq!(table[0], ["NAME", "REQUEST", "LIMIT", "AGE"]);
    let compute = table
        .iter()
        .find(|r| r[0] == "compute-quota")
        .expect("quota row");
    assert_eq!(
        compute[1..compute.len() - 1].join(" "),
        "pods: 1/2, requests.cpu: 100m/1, requests.memory: 5Mi/20Mi limits.cpu: 200m/2, limits.memory: 6Mi/2Gi"
    );

    // Object counts: a NodePort service is refused, deleting the pod frees the quota.
    let out = s.kubectl(&[
        "create",
        "service",
        "nodeport",
        "web",
        "--tcp=80:80",
        "-n",
        "tenant",
    ]);
    assert_eq!(
        out.stderr.trim(),
        "error: failed to create NodePort service: services \"web\" is forbidden: exceeded quota: object-counts, \
         requested: services.nodeports=1, used: services.nodeports=0, limited: services.nodeports=0"
    );
    ok(
        &s,
        &[
            "delete",
            "pod",
            "nginx",
            "-n",
            "tenant",
            "--grace-period=0",
            "--force",
        ],
    );
    until(
        &s,
        &["describe", "quota", "compute-quota", "-n", "tenant"],
        |o| o.contains("pods             0     2"),
    );
}
