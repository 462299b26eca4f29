//! End-to-end: `kubectl get` prints upstream's columns and cells (server-side Tables).

use rkube_testkit::TestServer;

/// A server without controllers, so workload status stays as created and the cells are known.
fn server() -> TestServer {
    TestServer::start_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-controllers", "--disable-scheduler"],
    )
    .expect("starting rkube server")
}

/// The header line and the row of `name` in kubectl's output, split on runs of spaces.
fn row(out: &str, name: &str) -> (Vec<String>, Vec<String>) {
    let split = |l: &str| -> Vec<String> {
        l.split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut lines = out.lines();
    let header = split(lines.next().unwrap_or_default());
    let row = lines
        .find(|l| l.split_whitespace().next() == Some(name))
        .map(split)
        .unwrap_or_default();
    (header, row)
}

#[test]
fn wide_tables_of_workloads_and_services() {
    let s = server();
    for args in [
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=3",
        ][..],
        &[
            "expose",
            "deployment",
            "web",
            "--port=80",
            "--type=NodePort",
        ],
        &["create", "job", "once", "--image=busybox"],
    ] {
        let out = s.kubectl(args);
        assert!(out.success, "{}", out.all());
    }
    let deploy = s.kubectl(&["get", "deployments", "-o", "wide"]);
    let (header, web) = row(&deploy.stdout, "web");
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{}",
        deploy.all()
    );
    assert_eq!(web[1..4], ["0/3", "0", "0"], "{}", deploy.all());
    assert_eq!(
        web[5..],
        ["nginx", "nginx:1.27", "app=web"],
        "{}",
        deploy.all()
    );

    let svc = s.kubectl(&["get", "services", "web", "-o", "wide"]);
    let (header, web) = row(&svc.stdout, "web");
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ]
    );
    assert_eq!(web[1], "NodePort");
    assert_eq!(web[3], "<none>");
    assert!(
        web[4].starts_with("80:3") && web[4].ends_with("/TCP"),
        "{web:?}"
    );
    assert_eq!(web[6], "app=web");

    let job = s.kubectl(&["get", "jobs"]);
    let (header, once) = row(&job.stdout, "once");
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    assert_eq!(once[1..3], ["Running", "0/1"], "{}", job.all());
}

#[test]
fn pod_status_column_shows_upstreams_reasons() {
    let s = server();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: [{name: init, image: busybox}]\n  containers: [{name: app, image: busybox}]\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(pod));
    assert!(out.success, "{}", out.all());
    let status = r#"{"status": {"phase": "Pending", "initContainerStatuses": [{"name": "init", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}}"#;
    let out = s.kubectl(&[
        "patch",
        "pod",
        "p",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
    assert!(out.success, "{}", out.all());
    let get = s.kubectl(&["get", "pod", "p", "-o", "wide"]);
    let (header, p) = row(&get.stdout, "p");
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    assert_eq!(p[1..4], ["0/1", "Init:0/1", "0"], "{}", get.all());
}
