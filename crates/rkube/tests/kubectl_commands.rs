//! End-to-end: the kubectl commands the books use, run with the real kubectl against a real
//! `rkube server`, asserting what upstream v1.33 prints for them.
//!
//! Commands that need controllers (rollout status/history/undo, waiting for garbage collection
//! after `--cascade=orphan|foreground`) are checked as far as the API decides them.

use rkube_testkit::{KubectlOutput, TestServer, kubectl_path};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

fn server() -> TestServer {
    TestServer::start(Path::new(env!("CARGO_BIN_EXE_rkube"))).expect("starting rkube server")
}

/// A server whose workloads change only through these commands: no controllers or scheduler
/// acting on them, so each command's own effect is what the checks see.
fn bare_server() -> TestServer {
    TestServer::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-controllers", "--disable-scheduler"],
    )
    .expect("starting rkube server")
}

/// The first words of each of a text's first lines (describe pads its labels to the longest).
fn heads(text: &str, n: usize) -> Vec<Vec<&str>> {
    text.lines()
        .take(n)
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// Run kubectl and require success; its stdout.
fn ok(s: &TestServer, args: &[&str]) -> String {
    let out = s.kubectl(args);
    assert!(out.success, "kubectl {args:?} failed:\n{}", out.all());
    out.stdout
}

/// Run kubectl with `input` on stdin and require success; its stdout.
fn ok_stdin(s: &TestServer, args: &[&str], input: &str) -> String {
    let out = s.kubectl_stdin(args, Some(input));
    assert!(out.success, "kubectl {args:?} failed:\n{}", out.all());
    out.stdout
}

/// Run kubectl and require failure; what it printed.
fn fails(s: &TestServer, args: &[&str]) -> KubectlOutput {
    let out = s.kubectl(args);
    assert!(!out.success, "kubectl {args:?} succeeded:\n{}", out.all());
    out
}

/// Write `text` to `name` in the server's temp dir; its path.
fn file(s: &TestServer, name: &str, text: &str) -> PathBuf {
    let path = s.dir.path().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("creating a test dir");
    }
    std::fs::write(&path, text).expect("writing a test file");
    path
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Lines of `out`, each split on whitespace (for tables whose widths depend on the content).
fn cells(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// The whitespace-split row of a table whose first cell is `first`.
fn row(out: &str, first: &str) -> Vec<String> {
    cells(out)
        .into_iter()
        .find(|r| r.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in:\n{out}"))
}

fn uid(s: &TestServer, what: &str) -> String {
    ok(s, &["get", what, "-o", "jsonpath={.metadata.uid}"])
}

/// A core/v1 Event about an object, as a controller would write it.
fn event(
    name: &str,
    kind: &str,
    api_version: &str,
    obj: &str,
    uid: &str,
    reason: &str,
    message: &str,
) -> String {
    let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap();
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {name}}}\n\
         involvedObject: {{kind: {kind}, name: {obj}, namespace: default, uid: \"{uid}\", apiVersion: {api_version}}}\n\
         reason: {reason}\nmessage: {message}\ntype: Normal\nsource: {{component: test-controller}}\n\
         firstTimestamp: \"{now}\"\nlastTimestamp: \"{now}\"\ncount: 1\n"
    )
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, labels: {app: p1}}\nspec:\n  containers: [{name: app, image: busybox, command: [sleep, \"3600\"]}]\n";

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d1, labels: {app: d1}}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: d1}}\n  template:\n    metadata: {labels: {app: d1}}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n        ports: [{containerPort: 80}]\n";

#[test]
fn get_prints_every_output_format() {
    let s = server();
    ok(
        &s,
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
        ],
    );
    ok(
        &s,
        &[
            "create",
            "configmap",
            "cm1",
            "--from-literal=a=1",
            "--from-literal=b=2",
        ],
    );
    ok(&s, &["label", "configmap", "cm1", "tier=fe"]);

    assert_eq!(
        ok(&s, &["get", "configmaps", "-o", "name"]),
        "configmap/cm1\nconfigmap/kube-root-ca.crt\n"
    );
    let yaml = ok(&s, &["get", "cm", "cm1", "-o", "yaml"]);
    assert!(
        yaml.starts_with("apiVersion: v1\ndata:\n  a: \"1\"\n  b: \"2\"\nkind: ConfigMap\n"),
        "{yaml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&s, &["get", "cm", "cm1", "-o", "json"])).unwrap();
    assert_eq!(json["metadata"]["labels"]["tier"], "fe");
    assert_eq!(
        ok(&s, &["get", "cm", "cm1", "-o", "jsonpath={.data.a}"]),
        "1"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "cm",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"
            ]
        ),
        "cm1\nkube-root-ca.crt\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "cm",
                "cm1",
                "-o",
                "go-template={{.metadata.name}}:{{index .data \"b\"}}"
            ]
        ),
        "cm1:2"
    );
    assert_eq!(
        cells(&ok(
            &s,
            &[
                "get",
                "cm",
                "-o",
                "custom-columns=NAME:.metadata.name,A:.data.a"
            ]
        )),
        [["NAME", "A"], ["cm1", "1"], ["kube-root-ca.crt", "<none>"]]
    );

    let labels = ok(&s, &["get", "cm", "--show-labels"]);
    assert_eq!(row(&labels, "NAME"), ["NAME", "DATA", "AGE", "LABELS"]);
    assert_eq!(row(&labels, "cm1")[3], "tier=fe");
    assert_eq!(row(&labels, "kube-root-ca.crt")[3], "<none>");
    let column = ok(&s, &["get", "cm", "-L", "tier"]);
    assert_eq!(row(&column, "NAME"), ["NAME", "DATA", "AGE", "TIER"]);
    assert_eq!(row(&column, "cm1")[3], "fe");
    assert_eq!(
        row(&column, "kube-root-ca.crt").len(),
        3,
        "an empty TIER cell"
    );

    let wide = ok(&s, &["get", "deploy", "-o", "wide"]);
    assert_eq!(
        row(&wide, "NAME"),
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );

    // Several types at once: one table per type, names qualified, a blank line between.
    let two = ok(&s, &["get", "cm,deploy"]);
    let blocks: Vec<&str> = two.split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{two}");
    assert!(
        blocks[0]
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("configmap/cm1 "),
        "{two}"
    );
    assert!(
        blocks[1]
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("deployment.apps/web "),
        "{two}"
    );
    assert_eq!(
        ok(&s, &["get", "cm,deploy", "-o", "name"]),
        "configmap/cm1\nconfigmap/kube-root-ca.crt\ndeployment.apps/web\n"
    );

    // `all` is the category: services and deployments here, no configmaps.
    let all = ok(&s, &["get", "all"]);
    assert!(all.contains("\nservice/kubernetes "), "{all}");
    assert!(all.contains("\ndeployment.apps/web "), "{all}");
    assert!(!all.contains("configmap"), "{all}");
    let all_ns = ok(&s, &["get", "all", "-A"]);
    assert!(
        all_ns.lines().any(|l| l
            .split_whitespace()
            .take(2)
            .eq(["default", "service/kubernetes"])),
        "{all_ns}"
    );

    // --chunk-size pages through the list with limit/continue and prints one table.
    let chunked = s.kubectl(&["get", "cm", "--chunk-size=1", "-v=6"]);
    assert!(chunked.success, "{}", chunked.all());
    assert!(
        chunked.stderr.contains("configmaps?limit=1\""),
        "{}",
        chunked.stderr
    );
    assert!(chunked.stderr.contains("continue="), "{}", chunked.stderr);
    assert_eq!(cells(&chunked.stdout).len(), 3, "{}", chunked.stdout);
    assert_eq!(row(&chunked.stdout, "NAME"), ["NAME", "DATA", "AGE"]);
}

#[test]
fn get_watch_and_watch_only() {
    let s = server();
    ok(&s, &["create", "configmap", "first"]);
    let read = |mut child: std::process::Child| {
        std::thread::sleep(Duration::from_secs(2));
        let _ = child.kill();
        let _ = child.wait();
        let mut printed = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut printed)
            .unwrap();
        printed
    };
    let watch = s.kubectl_background(&["get", "cm", "-w"]);
    let watch_only = s.kubectl_background(&["get", "cm", "--watch-only"]);
    std::thread::sleep(Duration::from_millis(1500));
    ok(&s, &["create", "configmap", "second", "--from-literal=k=v"]);
    let (watch, watch_only) = (read(watch), read(watch_only));
    let names =
        |out: &str| -> Vec<String> { cells(out).into_iter().map(|r| r[0].clone()).collect() };
    assert_eq!(
        names(&watch),
        ["NAME", "first", "kube-root-ca.crt", "second"],
        "{watch}"
    );
    assert_eq!(names(&watch_only), ["NAME", "second"], "{watch_only}");
    assert_eq!(row(&watch_only, "second")[1], "1");
}

#[test]
fn describe_shows_the_objects_events() {
    let s = bare_server();
    ok_stdin(&s, &["create", "-f", "-"], POD);
    ok_stdin(&s, &["create", "-f", "-"], DEPLOY);
    let pod_uid = uid(&s, "pod/p1");
    let deploy_uid = uid(&s, "deployment/d1");
    ok_stdin(
        &s,
        &["create", "-f", "-"],
        &event(
            "p1.1",
            "Pod",
            "v1",
            "p1",
            &pod_uid,
            "Scheduled",
            "Successfully assigned default/p1 to node1",
        ),
    );
    ok_stdin(
        &s,
        &["create", "-f", "-"],
        &event(
            "d1.1",
            "Deployment",
            "apps/v1",
            "d1",
            &deploy_uid,
            "ScalingReplicaSet",
            "Scaled up replica set d1-abc to 2",
        ),
    );
    // An event about another object stays out of both.
    ok_stdin(
        &s,
        &["create", "-f", "-"],
        &event(
            "other.1",
            "Pod",
            "v1",
            "other",
            "0000",
            "Pulled",
            "elsewhere",
        ),
    );

    let pod = ok(&s, &["describe", "pod", "p1"]);
    assert_eq!(
        heads(&pod, 2),
        [["Name:", "p1"], ["Namespace:", "default"]],
        "{pod}"
    );
    assert!(
        pod.lines()
            .any(|l| l.split_whitespace().eq(["Status:", "Pending"])),
        "{pod}"
    );
    // Admission's defaults show as upstream's describe prints them.
    assert!(
        pod.lines()
            .any(|l| l.split_whitespace().eq(["Service", "Account:", "default"])),
        "{pod}"
    );
    assert!(
        pod.contains("\n    Command:\n      sleep\n      3600\n"),
        "{pod}"
    );
    let events = pod.split("\nEvents:\n").nth(1).expect("an Events section");
    let lines = cells(events);
    assert_eq!(lines[0], ["Type", "Reason", "Age", "From", "Message"]);
    assert_eq!(lines[2][..2], ["Normal", "Scheduled"]);
    assert_eq!(
        lines[2][3..],
        [
            "test-controller",
            "Successfully",
            "assigned",
            "default/p1",
            "to",
            "node1"
        ]
    );
    assert_eq!(lines.len(), 3, "{events}");

    let deploy = ok(&s, &["describe", "deployment", "d1"]);
    assert!(deploy.contains("\nReplicas:               2 desired | 0 updated | 0 total | 0 available | 0 unavailable\n"), "{deploy}");
    let events = deploy
        .split("\nEvents:\n")
        .nth(1)
        .expect("an Events section");
    assert_eq!(
        cells(events)[2][..2],
        ["Normal", "ScalingReplicaSet"],
        "{events}"
    );
    assert!(!deploy.contains("elsewhere"));

    let all = ok(
        &s,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=Pod,involvedObject.name=p1",
            "-o",
            "name",
        ],
    );
    assert_eq!(all, "event/p1.1\n");
}

#[test]
fn create_generators() {
    let s = server();
    let txt = file(&s, "f.txt", "hello\n");
    let env = file(&s, "e.env", "K1=v1\n# comment\nK2=v2\n");
    let (cert, key) = self_signed(&s);

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            args(&[
                "create",
                "deployment",
                "web",
                "--image=nginx:1.27",
                "--replicas=2",
                "--port=80",
            ]),
            "deployment.apps/web created\n",
        ),
        (
            args(&["create", "service", "clusterip", "svc1", "--tcp=80:8080"]),
            "service/svc1 created\n",
        ),
        (
            args(&["create", "service", "nodeport", "np1", "--tcp=80:8080"]),
            "service/np1 created\n",
        ),
        (
            args(&[
                "create",
                "configmap",
                "lit",
                "--from-literal=a=1",
                "--from-literal=b=2",
            ]),
            "configmap/lit created\n",
        ),
        (
            vec![
                "create".into(),
                "configmap".into(),
                "fromfile".into(),
                format!("--from-file={}", p(&txt)),
            ],
            "configmap/fromfile created\n",
        ),
        (
            vec![
                "create".into(),
                "configmap".into(),
                "fromenv".into(),
                format!("--from-env-file={}", p(&env)),
            ],
            "configmap/fromenv created\n",
        ),
        (
            vec![
                "create".into(),
                "secret".into(),
                "generic".into(),
                "s1".into(),
                "--from-literal=user=admin".into(),
                format!("--from-file=greeting={}", p(&txt)),
            ],
            "secret/s1 created\n",
        ),
        (
            vec![
                "create".into(),
                "secret".into(),
                "tls".into(),
                "t1".into(),
                format!("--cert={}", p(&cert)),
                format!("--key={}", p(&key)),
            ],
            "secret/t1 created\n",
        ),
        (
            args(&[
                "create",
                "secret",
                "docker-registry",
                "reg",
                "--docker-server=r.example",
                "--docker-username=u",
                "--docker-password=pw",
            ]),
            "secret/reg created\n",
        ),
        (
            args(&["create", "namespace", "ns1"]),
            "namespace/ns1 created\n",
        ),
        (
            args(&["create", "job", "j1", "--image=busybox", "--", "echo", "hi"]),
            "job.batch/j1 created\n",
        ),
        (
            args(&[
                "create",
                "cronjob",
                "cj1",
                "--image=busybox",
                "--schedule=*/5 * * * *",
                "--",
                "echo",
                "hi",
            ]),
            "cronjob.batch/cj1 created\n",
        ),
        (
            args(&["create", "job", "j2", "--from=cronjob/cj1"]),
            "job.batch/j2 created\n",
        ),
    ];
    for (a, printed) in cases {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        assert_eq!(ok(&s, &a), printed, "kubectl {a:?}");
    }

    assert_eq!(
        ok(
            &s,
            &["get", "cm", "fromfile", "-o", "jsonpath={.data.f\\.txt}"]
        ),
        "hello\n"
    );
    assert_eq!(
        ok(&s, &["get", "cm", "fromenv", "-o", "jsonpath={.data}"]),
        r#"{"K1":"v1","K2":"v2"}"#
    );
    assert_eq!(
        ok(&s, &["get", "secret", "s1", "-o", "jsonpath={.data.user}"]),
        "YWRtaW4="
    );
    let secrets = ok(&s, &["get", "secrets"]);
    assert_eq!(row(&secrets, "s1")[1..3], ["Opaque", "2"]);
    assert_eq!(row(&secrets, "t1")[1..3], ["kubernetes.io/tls", "2"]);
    assert_eq!(
        row(&secrets, "reg")[1..3],
        ["kubernetes.io/dockerconfigjson", "1"]
    );
    let svc = ok(&s, &["get", "svc"]);
    assert_eq!(row(&svc, "svc1")[1], "ClusterIP");
    assert_eq!(row(&svc, "svc1")[4], "80/TCP");
    assert!(row(&svc, "np1")[4].starts_with("80:3"), "{svc}");
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].ports[0].containerPort}"
            ]
        ),
        "80"
    );
    assert_eq!(row(&ok(&s, &["get", "ns", "ns1"]), "ns1")[1], "Active");

    // A job made from a cronjob is owned by it and marked as manual, as upstream's kubectl does.
    let j2: serde_json::Value =
        serde_json::from_str(&ok(&s, &["get", "job", "j2", "-o", "json"])).unwrap();
    assert_eq!(
        j2["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(j2["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(j2["metadata"]["ownerReferences"][0]["name"], "cj1");
    assert_eq!(
        j2["metadata"]["labels"]["batch.kubernetes.io/job-name"],
        "j2"
    );
    let jobs = ok(&s, &["get", "jobs"]);
    assert_eq!(
        row(&jobs, "NAME"),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    );
    assert_eq!(row(&jobs, "j2")[1..3], ["Running", "0/1"]);

    // Creating what exists is upstream's AlreadyExists.
    let again = fails(&s, &["create", "namespace", "ns1"]);
    assert_eq!(
        again.stderr,
        "Error from server (AlreadyExists): namespaces \"ns1\" already exists\n"
    );
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A PEM certificate and its key for `create secret tls`: the server's own serving pair.
fn self_signed(s: &TestServer) -> (PathBuf, PathBuf) {
    let tls = s.data_dir().join("tls");
    let (cert, key) = (tls.join("serving.crt"), tls.join("serving.key"));
    assert!(
        cert.exists() && key.exists(),
        "the serving certificate and key"
    );
    (cert, key)
}

#[test]
fn apply_diff_prune_and_server_side() {
    let s = server();
    let dir = s.dir.path().join("app");
    let a = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ap-a, labels: {set: ap}}\ndata: {k: v1}\n";
    file(&s, "app/a.yaml", a);
    file(
        &s,
        "app/b.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ap-b, labels: {set: ap}}\ndata: {k: v1}\n",
    );
    let d = p(&dir);
    assert_eq!(
        ok(&s, &["apply", "-f", d]),
        "configmap/ap-a created\nconfigmap/ap-b created\n"
    );
    assert_eq!(
        ok(&s, &["apply", "-f", d]),
        "configmap/ap-a unchanged\nconfigmap/ap-b unchanged\n"
    );

    // diff: exit 0 without changes; exit 1 and a unified diff of live vs merged otherwise.
    let same = s.kubectl(&["diff", "-f", d]);
    assert!(same.success && same.stdout.is_empty(), "{}", same.all());
    file(&s, "app/a.yaml", &a.replace("k: v1", "k: v2"));
    let diff = s.kubectl(&["diff", "-f", d]);
    assert!(!diff.success, "{}", diff.all());
    assert!(diff.stderr.is_empty(), "{}", diff.stderr);
    let changed: Vec<&str> = diff
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect();
    // Only the data changes: a server-side dry run keeps the live resourceVersion.
    assert_eq!(changed, ["-  k: v1", "+  k: v2"], "{}", diff.stdout);
    assert_eq!(
        ok(&s, &["get", "cm", "ap-a", "-o", "jsonpath={.data.k}"]),
        "v1",
        "diff changed nothing"
    );

    assert_eq!(
        ok(&s, &["apply", "-f", d, "--dry-run=server"]),
        "configmap/ap-a configured (server dry run)\nconfigmap/ap-b unchanged (server dry run)\n"
    );
    assert_eq!(
        ok(&s, &["get", "cm", "ap-a", "-o", "jsonpath={.data.k}"]),
        "v1"
    );
    assert_eq!(
        ok(&s, &["apply", "-f", d]),
        "configmap/ap-a configured\nconfigmap/ap-b unchanged\n"
    );

    // --prune with a selector deletes what is labelled but no longer in the files.
    std::fs::remove_file(dir.join("b.yaml")).unwrap();
    let pruned = ok(&s, &["apply", "-f", d, "--prune", "-l", "set=ap"]);
    assert_eq!(pruned, "configmap/ap-a unchanged\nconfigmap/ap-b pruned\n");
    assert_eq!(
        ok(&s, &["get", "cm", "-l", "set=ap", "-o", "name"]),
        "configmap/ap-a\n"
    );

    // -k: a kustomization's generated and prefixed objects.
    file(
        &s,
        "kz/kustomization.yaml",
        "namePrefix: k-\nlabels:\n- pairs: {kz: \"yes\"}\nresources: [cm.yaml]\nconfigMapGenerator:\n- name: gen\n  literals: [a=b]\n",
    );
    file(
        &s,
        "kz/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\ndata: {x: \"1\"}\n",
    );
    let kz = ok(&s, &["apply", "-k", p(&s.dir.path().join("kz"))]);
    let lines: Vec<&str> = kz.lines().collect();
    assert_eq!(lines[0], "configmap/k-base created", "{kz}");
    assert!(
        lines[1].starts_with("configmap/k-gen-") && lines[1].ends_with(" created"),
        "{kz}"
    );
    assert_eq!(
        ok(&s, &["get", "cm", "-l", "kz=yes", "-o", "name"])
            .lines()
            .count(),
        2
    );

    // --server-side: create, reapply, and take over what client-side apply set.
    let ssa = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {x: \"1\"}\n";
    assert_eq!(
        ok_stdin(&s, &["apply", "--server-side", "-f", "-"], ssa),
        "configmap/ssa serverside-applied\n"
    );
    assert_eq!(
        ok_stdin(&s, &["apply", "--server-side", "-f", "-"], ssa),
        "configmap/ssa serverside-applied\n"
    );
    let managed = ok(
        &s,
        &[
            "get",
            "cm",
            "ssa",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}",
            "--show-managed-fields",
        ],
    );
    assert_eq!(managed, "kubectl/Apply");
    let edited = ok(&s, &["patch", "cm", "ssa", "-p", r#"{"data":{"x":"2"}}"#]);
    assert_eq!(edited, "configmap/ssa patched\n");
    let conflict = s.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(ssa));
    assert!(!conflict.success);
    assert!(
        conflict.stderr.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"kubectl-patch\": .data.x\n"
        ),
        "{}",
        conflict.stderr
    );
    assert_eq!(
        ok_stdin(
            &s,
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            ssa
        ),
        "configmap/ssa serverside-applied\n"
    );

    ok_stdin(&s, &["apply", "-f", "-"], DEPLOY);
    let moved = DEPLOY
        .replace("nginx:1.27", "nginx:1.28")
        .replace("replicas: 2", "replicas: 3");
    let diff = s.kubectl_stdin(&["diff", "--server-side", "-f", "-"], Some(&moved));
    assert!(
        !diff.success && diff.stdout.contains("+  replicas: 3\n"),
        "{}",
        diff.all()
    );
    assert_eq!(
        ok_stdin(&s, &["apply", "--server-side", "-f", "-"], &moved),
        "deployment.apps/d1 serverside-applied\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "deploy",
                "d1",
                "-o",
                "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"
            ]
        ),
        "3 nginx:1.28"
    );
    // The client-side annotation follows, so a later client-side apply merges from it.
    let last: serde_json::Value = serde_json::from_str(&ok(
        &s,
        &[
            "get",
            "deploy",
            "d1",
            "-o",
            "jsonpath={.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}",
        ],
    ))
    .unwrap();
    assert_eq!(last["spec"]["replicas"], 3);
    // (The server writes the annotation without kubectl's empty `annotations: {}`, so the next
    // client-side apply rewrites it once.)
    assert_eq!(
        ok_stdin(&s, &["apply", "-f", "-"], &moved),
        "deployment.apps/d1 configured\n"
    );
    assert_eq!(
        ok_stdin(&s, &["apply", "-f", "-"], &moved),
        "deployment.apps/d1 unchanged\n"
    );
}

/// kubectl with `EDITOR` set.
fn kubectl_with_editor(s: &TestServer, editor: &Path, args: &[&str]) -> KubectlOutput {
    let out = Command::new(kubectl_path())
        .arg("--kubeconfig")
        .arg(s.kubeconfig())
        .args(args)
        .env("HOME", s.dir.path())
        .env("EDITOR", editor)
        .env("KUBE_EDITOR", editor)
        .stdin(Stdio::null())
        .output()
        .expect("running kubectl");
    KubectlOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn script(s: &TestServer, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = file(s, name, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn edit_patch_replace_and_warnings() {
    let s = server();
    ok(&s, &["create", "configmap", "base", "--from-literal=x=1"]);

    let editor = script(&s, "edit.sh", "sed -i 's/x: \"1\"/x: edited/' \"$1\"");
    let out = kubectl_with_editor(&s, &editor, &["edit", "cm", "base"]);
    assert_eq!(out.stdout, "configmap/base edited\n", "{}", out.all());
    assert_eq!(
        ok(&s, &["get", "cm", "base", "-o", "jsonpath={.data.x}"]),
        "edited"
    );
    let noop = script(&s, "noop.sh", "true");
    let out = kubectl_with_editor(&s, &noop, &["edit", "cm", "base"]);
    assert!(
        out.success && out.stderr == "Edit cancelled, no changes made.\n",
        "{}",
        out.all()
    );
    let managers = ok(
        &s,
        &[
            "get",
            "cm",
            "base",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ],
    );
    assert_eq!(managers, "kubectl-create kubectl-edit");

    // The three patch types.
    assert_eq!(
        ok(&s, &["patch", "cm", "base", "-p", r#"{"data":{"y":"2"}}"#]),
        "configmap/base patched\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "patch",
                "cm",
                "base",
                "--type=merge",
                "-p",
                r#"{"data":{"z":"3"}}"#
            ]
        ),
        "configmap/base patched\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "patch",
                "cm",
                "base",
                "--type=json",
                "-p",
                r#"[{"op":"remove","path":"/data/y"}]"#
            ]
        ),
        "configmap/base patched\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "patch",
                "cm",
                "base",
                "--type=merge",
                "-p",
                r#"{"data":{"z":"3"}}"#
            ]
        ),
        "configmap/base patched (no change)\n"
    );
    assert_eq!(
        ok(&s, &["get", "cm", "base", "-o", "jsonpath={.data}"]),
        r#"{"x":"edited","z":"3"}"#
    );
    let bad = fails(
        &s,
        &[
            "patch",
            "cm",
            "base",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/data/nope"}]"#,
        ],
    );
    assert_eq!(
        bad.stderr,
        "The request is invalid: the server rejected our request due to an error in our request\n"
    );
    ok_stdin(&s, &["create", "-f", "-"], DEPLOY);
    ok(
        &s,
        &[
            "patch",
            "deploy",
            "d1",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}"#,
        ],
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "deploy",
                "d1",
                "-o",
                "jsonpath={.spec.template.spec.containers[*].image} {.spec.template.spec.containers[0].ports[0].containerPort}"
            ]
        ),
        "nginx:1.28 80",
        "strategic merge patch merges containers by name"
    );

    // Warning headers: kubectl patch asks for no field validation, so the server's default
    // (Warn) reports the unknown field and drops it; --validate=warn does the same on create.
    let warned = s.kubectl(&["patch", "cm", "base", "-p", r#"{"bogus":"x"}"#]);
    assert!(warned.success, "{}", warned.all());
    assert_eq!(warned.stdout, "configmap/base patched (no change)\n");
    assert_eq!(warned.stderr, "Warning: unknown field \"bogus\"\n");
    let bogus =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bogus}\ndata: {k: v}\nbogus: 1\n";
    let created = s.kubectl_stdin(&["create", "--validate=warn", "-f", "-"], Some(bogus));
    assert_eq!(
        created.stdout,
        "configmap/bogus created\n",
        "{}",
        created.all()
    );
    assert_eq!(created.stderr, "Warning: unknown field \"bogus\"\n");
    // kubectl apply asks for Strict: the unknown field in the patch is refused.
    ok_stdin(
        &s,
        &["apply", "-f", "-"],
        &bogus
            .replace("bogus: 1\n", "")
            .replace("name: bogus", "name: applied"),
    );
    let strict = s.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&bogus.replace("name: bogus", "name: applied")),
    );
    assert!(!strict.success);
    assert!(strict.stderr.starts_with("The request is invalid: patch: Invalid value: \"map[bogus:1 metadata:map[annotations:map[kubectl.kubernetes.io/last-applied-configuration:"), "{}", strict.stderr);
    assert!(
        strict
            .stderr
            .ends_with("]]]\": strict decoding error: unknown field \"bogus\"\n"),
        "{}",
        strict.stderr
    );

    // Server-side apply converts the configuration to its type first: an undeclared field is
    // upstream's unclassified error, naming the object and the field.
    let ssa = s.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(bogus));
    assert_eq!(
        ssa.stderr,
        "Error from server: failed to create typed patch object (default/bogus; /v1, Kind=ConfigMap): .bogus: field not declared in schema\n"
    );

    // replace, and replace --force (delete and create).
    let yaml = ok(&s, &["get", "cm", "base", "-o", "yaml"]).replace("edited", "replaced");
    assert_eq!(
        ok_stdin(&s, &["replace", "-f", "-"], &yaml),
        "configmap/base replaced\n"
    );
    let stale = s.kubectl_stdin(&["replace", "-f", "-"], Some(&yaml));
    assert_eq!(
        stale.stderr,
        "Error from server (Conflict): error when replacing \"STDIN\": Operation cannot be fulfilled on configmaps \"base\": the object has been modified; please apply your changes to the latest version and try again\n"
    );
    let fresh = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\ndata: {only: one}\n";
    assert_eq!(
        ok_stdin(&s, &["replace", "--force", "-f", "-"], fresh),
        "configmap \"base\" deleted\nconfigmap/base replaced\n"
    );
    assert_eq!(
        ok(&s, &["get", "cm", "base", "-o", "jsonpath={.data}"]),
        r#"{"only":"one"}"#
    );
}

#[test]
fn delete_variants() {
    let s = server();
    for n in ["d1", "d2", "d3", "keep"] {
        ok(&s, &["create", "configmap", n]);
    }
    ok(&s, &["label", "cm", "d1", "d2", "grp=x"]);
    assert_eq!(
        ok(&s, &["delete", "cm", "-l", "grp=x"]),
        "configmap \"d1\" deleted\nconfigmap \"d2\" deleted\n"
    );
    assert_eq!(
        ok(&s, &["delete", "cm", "d3", "--cascade=background"]),
        "configmap \"d3\" deleted\n"
    );
    let none = fails(&s, &["get", "cm", "d3"]);
    assert_eq!(
        none.stderr,
        "Error from server (NotFound): configmaps \"d3\" not found\n"
    );

    // Orphan and foreground deletion go through the garbage collector, which removes the
    // finalizer the server set; kubectl waits until the object is gone.
    for (name, cascade) in [("o1", "orphan"), ("f1", "foreground")] {
        ok(&s, &["create", "configmap", name]);
        let out = ok(
            &s,
            &[
                "delete",
                "cm",
                name,
                &format!("--cascade={cascade}"),
                "--timeout=30s",
            ],
        );
        assert_eq!(out, format!("configmap \"{name}\" deleted\n"));
        let gone = fails(&s, &["get", "cm", name]);
        assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
    }
    // Dry run deletes nothing.
    assert_eq!(
        ok(&s, &["delete", "cm", "keep", "--dry-run=server"]),
        "configmap \"keep\" deleted (server dry run)\n"
    );
    assert_eq!(
        ok(&s, &["get", "cm", "keep", "-o", "name"]),
        "configmap/keep\n"
    );

    // Pods: an unscheduled pod goes at once; --force --grace-period=0 warns as upstream does.
    ok_stdin(&s, &["create", "-f", "-"], POD);
    assert_eq!(
        ok(&s, &["delete", "pod", "p1", "--wait"]),
        "pod \"p1\" deleted\n"
    );
    let bound = POD.replace("spec:\n", "spec:\n  nodeName: node1\n");
    ok_stdin(&s, &["create", "-f", "-"], &bound);
    assert_eq!(
        ok(
            &s,
            &["delete", "pod", "p1", "--grace-period=30", "--wait=false"]
        ),
        "pod \"p1\" deleted\n"
    );
    let terminating = ok(
        &s,
        &[
            "get",
            "pod",
            "p1",
            "-o",
            "jsonpath={.metadata.deletionGracePeriodSeconds}",
        ],
    );
    assert_eq!(terminating, "30", "a scheduled pod waits for its kubelet");
    assert_eq!(row(&ok(&s, &["get", "pods"]), "p1")[2], "Terminating");
    let forced = s.kubectl(&["delete", "pod", "p1", "--force", "--grace-period=0"]);
    assert_eq!(
        forced.stdout,
        "pod \"p1\" force deleted\n",
        "{}",
        forced.all()
    );
    assert_eq!(
        forced.stderr,
        "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n"
    );
    assert_eq!(ok(&s, &["get", "pods", "-o", "name"]), "");

    // --all in a namespace, and the namespace itself.
    ok(&s, &["create", "namespace", "scratch"]);
    for n in ["a", "b"] {
        ok(&s, &["create", "configmap", n, "-n", "scratch"]);
    }
    ok(
        &s,
        &[
            "wait",
            "--for=create",
            "cm/kube-root-ca.crt",
            "-n",
            "scratch",
            "--timeout=20s",
        ],
    );
    let all = ok(&s, &["delete", "cm", "--all", "-n", "scratch"]);
    assert_eq!(
        all,
        "configmap \"a\" deleted\nconfigmap \"b\" deleted\nconfigmap \"kube-root-ca.crt\" deleted\n"
    );
    assert_eq!(
        ok(&s, &["delete", "namespace", "scratch"]),
        "namespace \"scratch\" deleted\n"
    );
}

#[test]
fn label_annotate_scale_set_expose_rollout() {
    let s = server();
    ok(&s, &["create", "configmap", "base"]);
    assert_eq!(
        ok(&s, &["label", "cm", "base", "env=dev"]),
        "configmap/base labeled\n"
    );
    let clash = fails(&s, &["label", "cm", "base", "env=prod"]);
    assert_eq!(
        clash.stderr,
        "error: 'env' already has a value (dev), and --overwrite is false\n"
    );
    assert_eq!(
        ok(&s, &["label", "cm", "base", "env=prod", "--overwrite"]),
        "configmap/base labeled\n"
    );
    assert_eq!(
        ok(&s, &["label", "cm", "base", "env-"]),
        "configmap/base unlabeled\n"
    );
    assert_eq!(
        ok(&s, &["annotate", "cm", "base", "note=hi"]),
        "configmap/base annotated\n"
    );
    let clash = fails(&s, &["annotate", "cm", "base", "note=ho"]);
    assert_eq!(
        clash.stderr,
        "error: --overwrite is false but found the following declared annotation(s): 'note' already has a value (hi)\n"
    );
    assert_eq!(
        ok(&s, &["annotate", "cm", "base", "note=ho", "--overwrite"]),
        "configmap/base annotated\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "cm",
                "base",
                "-o",
                "jsonpath={.metadata.annotations.note}"
            ]
        ),
        "ho"
    );
    assert_eq!(
        ok(&s, &["annotate", "cm", "base", "note-"]),
        "configmap/base annotated\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "cm",
                "base",
                "-o",
                "jsonpath={.metadata.annotations}"
            ]
        ),
        ""
    );

    ok(
        &s,
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
        ],
    );
    assert_eq!(
        ok(&s, &["scale", "deploy", "web", "--replicas=3"]),
        "deployment.apps/web scaled\n"
    );
    let pre = fails(
        &s,
        &[
            "scale",
            "deploy",
            "web",
            "--replicas=4",
            "--current-replicas=2",
        ],
    );
    assert_eq!(pre.stderr, "error: Expected replicas to be 2, was 3\n");
    assert_eq!(
        ok(
            &s,
            &[
                "scale",
                "deploy",
                "web",
                "--replicas=4",
                "--current-replicas=3"
            ]
        ),
        "deployment.apps/web scaled\n"
    );
    assert_eq!(
        ok(
            &s,
            &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]
        ),
        "4"
    );

    assert_eq!(
        ok(
            &s,
            &[
                "autoscale",
                "deploy",
                "web",
                "--min=2",
                "--max=5",
                "--cpu-percent=80"
            ]
        ),
        "horizontalpodautoscaler.autoscaling/web autoscaled\n"
    );
    let hpa = ok(&s, &["get", "hpa"]);
    assert_eq!(
        row(&hpa, "NAME"),
        [
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE"
        ]
    );
    assert_eq!(
        row(&hpa, "web")[1..7],
        ["Deployment/web", "cpu:", "<unknown>/80%", "2", "5", "0"]
    );

    assert_eq!(
        ok(&s, &["set", "image", "deploy/web", "nginx=nginx:1.29"]),
        "deployment.apps/web image updated\n"
    );
    let missing = fails(&s, &["set", "image", "deploy/web", "nope=x"]);
    assert_eq!(
        missing.stderr,
        "error: unable to find container named \"nope\"\n"
    );
    assert_eq!(
        ok(&s, &["set", "env", "deploy/web", "A=1", "B=2"]),
        "deployment.apps/web env updated\n"
    );
    assert_eq!(
        ok(&s, &["set", "env", "deploy/web", "--list"]),
        "# Deployment web, container nginx\nA=1\nB=2\n"
    );
    assert_eq!(
        ok(&s, &["set", "env", "deploy/web", "A-"]),
        "deployment.apps/web env updated\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "set",
                "resources",
                "deploy/web",
                "--limits=cpu=200m,memory=512Mi",
                "--requests=cpu=100m"
            ]
        ),
        "deployment.apps/web resource requirements updated\n"
    );
    let container: serde_json::Value = serde_json::from_str(&ok(
        &s,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0]}",
        ],
    ))
    .unwrap();
    assert_eq!(container["image"], "nginx:1.29");
    assert_eq!(
        container["env"],
        serde_json::json!([{"name": "B", "value": "2"}])
    );
    assert_eq!(
        container["resources"],
        serde_json::json!({"limits": {"cpu": "200m", "memory": "512Mi"}, "requests": {"cpu": "100m"}})
    );

    assert_eq!(
        ok(
            &s,
            &[
                "expose",
                "deploy",
                "web",
                "--port=80",
                "--target-port=8080",
                "--name=websvc"
            ]
        ),
        "service/websvc exposed\n"
    );
    let svc = ok(&s, &["get", "svc", "websvc", "-o", "wide"]);
    let r = row(&svc, "websvc");
    assert_eq!(
        (r[1].as_str(), r[4].as_str(), r[6].as_str()),
        ("ClusterIP", "80/TCP", "app=web")
    );
    let none = fails(&s, &["expose", "pod", "nope", "--port=80"]);
    assert_eq!(
        none.stderr,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );

    // rollout as far as the API decides it: restart stamps the template, pause/resume flip
    // spec.paused (history and undo need the Deployment controller's ReplicaSets).
    assert_eq!(
        ok(&s, &["rollout", "restart", "deploy/web"]),
        "deployment.apps/web restarted\n"
    );
    let stamp = ok(
        &s,
        &[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
        ],
    );
    assert!(
        jiff::Timestamp::from_str(&stamp).is_ok(),
        "restartedAt: {stamp}"
    );
    assert_eq!(
        ok(&s, &["rollout", "pause", "deploy/web"]),
        "deployment.apps/web paused\n"
    );
    assert_eq!(
        fails(&s, &["rollout", "pause", "deploy/web"]).stderr,
        "error: deployments.apps \"web\" is already paused\n"
    );
    assert_eq!(
        ok(
            &s,
            &["get", "deploy", "web", "-o", "jsonpath={.spec.paused}"]
        ),
        "true"
    );
    assert_eq!(
        ok(&s, &["rollout", "resume", "deploy/web"]),
        "deployment.apps/web resumed\n"
    );
    assert_eq!(
        fails(&s, &["rollout", "resume", "deploy/web"]).stderr,
        "error: deployments.apps \"web\" is not paused\n"
    );
    assert_eq!(
        ok(
            &s,
            &["get", "deploy", "web", "-o", "jsonpath={.spec.paused}"]
        ),
        ""
    );
}

#[test]
fn nodes_taint_cordon_uncordon_drain() {
    let s = bare_server();
    ok_stdin(
        &s,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata: {name: node1, labels: {kubernetes.io/hostname: node1}}\n",
    );
    assert_eq!(
        ok(&s, &["taint", "nodes", "node1", "key1=value1:NoSchedule"]),
        "node/node1 tainted\n"
    );
    let again = fails(&s, &["taint", "nodes", "node1", "key1=value1:NoSchedule"]);
    assert_eq!(
        again.stderr,
        "error: node node1 already has key1 taint(s) with same effect(s) and --overwrite is false\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "taint",
                "nodes",
                "node1",
                "key1=v2:NoSchedule",
                "--overwrite"
            ]
        ),
        "node/node1 modified\n"
    );
    assert_eq!(
        ok(
            &s,
            &["get", "node", "node1", "-o", "jsonpath={.spec.taints}"]
        ),
        r#"[{"effect":"NoSchedule","key":"key1","value":"v2"}]"#
    );
    assert_eq!(
        ok(&s, &["taint", "nodes", "node1", "key1:NoSchedule-"]),
        "node/node1 untainted\n"
    );
    assert_eq!(
        fails(&s, &["taint", "nodes", "node1", "key1-"]).stderr,
        "error: taint \"key1\" not found\n"
    );

    assert_eq!(ok(&s, &["cordon", "node1"]), "node/node1 cordoned\n");
    assert_eq!(
        ok(&s, &["cordon", "node1"]),
        "node/node1 already cordoned\n"
    );
    assert_eq!(
        row(&ok(&s, &["get", "nodes"]), "node1")[1],
        "Unknown,SchedulingDisabled"
    );
    assert_eq!(ok(&s, &["uncordon", "node1"]), "node/node1 uncordoned\n");
    assert_eq!(
        ok(&s, &["uncordon", "node1"]),
        "node/node1 already uncordoned\n"
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "node",
                "node1",
                "-o",
                "jsonpath={.spec.unschedulable}"
            ]
        ),
        ""
    );

    // drain evicts through the eviction API; pods without a controller need --force.
    ok_stdin(
        &s,
        &["create", "-f", "-"],
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs1}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: rs1}}\n  template:\n    metadata: {labels: {app: rs1}}\n    spec: {containers: [{name: app, image: busybox}]}\n",
    );
    let rs = uid(&s, "rs/rs1");
    let owned = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: owned\n  labels: {{app: rs1}}\n  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: rs1, uid: {rs}, controller: true}}]\nspec:\n  nodeName: node1\n  containers: [{{name: app, image: busybox}}]\n"
    );
    ok_stdin(&s, &["create", "-f", "-"], &owned);
    ok_stdin(
        &s,
        &["create", "-f", "-"],
        &POD.replace("name: p1", "name: bare")
            .replace("spec:\n", "spec:\n  nodeName: node1\n"),
    );
    let refused = fails(&s, &["drain", "node1", "--timeout=10s"]);
    assert_eq!(refused.stdout, "node/node1 cordoned\n");
    assert!(
        refused.stderr.contains(
            "cannot delete Pods that declare no controller (use --force to override): default/bare"
        ),
        "{}",
        refused.stderr
    );
    let drained = s.kubectl(&[
        "drain",
        "node1",
        "--force",
        "--grace-period=0",
        "--timeout=20s",
    ]);
    assert!(drained.success, "{}", drained.all());
    let mut lines: Vec<&str> = drained.stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "evicting pod default/bare",
            "evicting pod default/owned",
            "node/node1 already cordoned",
            "node/node1 drained",
            "pod/bare evicted",
            "pod/owned evicted"
        ]
    );
    assert_eq!(
        drained.stderr,
        "Warning: deleting Pods that declare no controller: default/bare\n"
    );
    assert_eq!(ok(&s, &["get", "pods", "-o", "name"]), "");
}

#[test]
fn discovery_and_client_side_commands() {
    let s = server();
    let res = ok(&s, &["api-resources"]);
    assert_eq!(
        row(&res, "NAME"),
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    assert_eq!(
        row(&res, "configmaps"),
        ["configmaps", "cm", "v1", "true", "ConfigMap"]
    );
    assert_eq!(
        row(&res, "deployments"),
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
    let wide = ok(&s, &["api-resources", "-o", "wide"]);
    assert_eq!(row(&wide, "NAME")[5..], ["VERBS", "CATEGORIES"]);
    assert_eq!(
        row(&wide, "pods")[5..],
        [
            "create,delete,deletecollection,get,list,patch,update,watch",
            "all"
        ]
    );
    let cluster = ok(&s, &["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(
        cluster.lines().any(|l| l == "nodes") && !cluster.lines().any(|l| l == "pods"),
        "{cluster}"
    );
    let listable = ok(&s, &["api-resources", "--verbs=list,watch", "-o", "name"]);
    assert!(
        listable.lines().any(|l| l == "configmaps")
            && !listable
                .lines()
                .any(|l| l == "bindings" || l == "componentstatuses"),
        "{listable}"
    );
    assert_eq!(
        cells(&ok(
            &s,
            &["api-resources", "--api-group=apps", "-o", "name"]
        )),
        [
            ["controllerrevisions.apps"],
            ["daemonsets.apps"],
            ["deployments.apps"],
            ["replicasets.apps"],
            ["statefulsets.apps"]
        ]
    );
    let versions = ok(&s, &["api-versions"]);
    for v in [
        "v1",
        "apps/v1",
        "batch/v1",
        "autoscaling/v2",
        "events.k8s.io/v1",
    ] {
        assert!(versions.lines().any(|l| l == v), "{v} in {versions}");
    }
    let explain = ok(&s, &["explain", "pod.spec.containers.name"]);
    assert!(
        explain.starts_with("KIND:       Pod\nVERSION:    v1\n\nFIELD: name <string>\n"),
        "{explain}"
    );

    let version = ok(&s, &["version"]);
    assert!(
        version
            .lines()
            .any(|l| l.starts_with("Server Version: v1.33.")),
        "{version}"
    );
    let info = ok(&s, &["cluster-info"]);
    assert_eq!(
        info.lines().next().unwrap(),
        format!("Kubernetes control plane is running at {}", s.url())
    );

    assert_eq!(ok(&s, &["auth", "can-i", "create", "pods"]), "yes\n");
    assert_eq!(
        ok(
            &s,
            &["auth", "can-i", "delete", "nodes", "--all-namespaces"]
        ),
        "yes\n"
    );
    let list = ok(&s, &["auth", "can-i", "--list"]);
    assert_eq!(
        row(&list, "Resources"),
        [
            "Resources",
            "Non-Resource",
            "URLs",
            "Resource",
            "Names",
            "Verbs"
        ]
    );
    assert_eq!(row(&list, "*.*"), ["*.*", "[]", "[]", "[*]"]);

    assert_eq!(
        ok(&s, &["config", "current-context"]).trim(),
        ok(&s, &["config", "view", "-o", "jsonpath={.current-context}"])
    );
    let view = ok(&s, &["config", "view", "--minify"]);
    assert!(
        view.contains(&format!("    server: {}\n", s.url())),
        "{view}"
    );
    assert!(
        view.contains("certificate-authority-data: DATA+OMITTED"),
        "{view}"
    );
}

#[test]
fn wait_for_conditions_jsonpath_and_delete() {
    let s = bare_server();
    ok(&s, &["create", "configmap", "cm1", "--from-literal=a=1"]);
    assert_eq!(
        ok(
            &s,
            &[
                "wait",
                "--for=jsonpath={.data.a}=1",
                "cm/cm1",
                "--timeout=10s"
            ]
        ),
        "configmap/cm1 condition met\n"
    );

    ok(&s, &["create", "configmap", "gone"]);
    let waiter = s.kubectl_background(&["wait", "--for=delete", "cm/gone", "--timeout=20s"]);
    std::thread::sleep(Duration::from_millis(1000));
    ok(&s, &["delete", "cm", "gone"]);
    let out = waiter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/gone condition met\n"
    );

    ok(&s, &["create", "deployment", "web", "--image=nginx"]);
    let timeout = fails(
        &s,
        &[
            "wait",
            "--for=condition=Available",
            "deploy/web",
            "--timeout=1s",
        ],
    );
    assert_eq!(
        timeout.stderr,
        "error: timed out waiting for the condition on deployments/web\n"
    );
    ok(
        &s,
        &[
            "patch",
            "deploy",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"ok","lastUpdateTime":"2026-01-01T00:00:00Z","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#,
        ],
    );
    assert_eq!(
        ok(
            &s,
            &[
                "wait",
                "--for=condition=Available",
                "deploy/web",
                "--timeout=10s"
            ]
        ),
        "deployment.apps/web condition met\n"
    );
    fails(
        &s,
        &[
            "wait",
            "--for=condition=Available=false",
            "deploy/web",
            "--timeout=1s",
        ],
    );
}

#[test]
fn dry_run_writes_nothing_on_any_path() {
    let s = server();
    ok(&s, &["create", "configmap", "keep", "--from-literal=k=v"]);
    ok(
        &s,
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=1",
        ],
    );
    ok_stdin(&s, &["create", "-f", "-"], POD);
    let dry = |args: &[&str]| {
        let mut a = args.to_vec();
        a.push("--dry-run=server");
        ok(&s, &a)
    };

    assert_eq!(
        dry(&["create", "configmap", "new"]),
        "configmap/new created (server dry run)\n"
    );
    assert_eq!(
        dry(&["label", "cm", "keep", "x=y"]),
        "configmap/keep labeled (server dry run)\n"
    );
    assert_eq!(
        dry(&["scale", "deploy", "web", "--replicas=5"]),
        "deployment.apps/web scaled (server dry run)\n"
    );
    dry(&[
        "patch",
        "deploy",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":9}}"#,
    ]);
    dry(&["set", "image", "deploy/web", "nginx=nginx:2"]);
    assert_eq!(
        dry(&["delete", "cm", "keep"]),
        "configmap \"keep\" deleted (server dry run)\n"
    );
    assert_eq!(
        dry(&["delete", "pod", "p1"]),
        "pod \"p1\" deleted (server dry run)\n"
    );
    let applied = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\n";
    let out = ok_stdin(
        &s,
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        applied,
    );
    assert_eq!(
        out,
        "configmap/applied serverside-applied (server dry run)\n"
    );
    let out = ok_stdin(&s, &["apply", "--dry-run=server", "-f", "-"], applied);
    assert_eq!(out, "configmap/applied created (server dry run)\n");
    // Raw API paths kubectl has no flag for: deletecollection and pods/binding.
    let listed = ok(
        &s,
        &[
            "delete",
            "--raw",
            "/api/v1/namespaces/default/configmaps?dryRun=All",
        ],
    );
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["kind"], "ConfigMapList");
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["keep", "kube-root-ca.crt"],
        "the list that would be deleted"
    );
    let binding = file(
        &s,
        "binding.json",
        r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"kind":"Node","name":"node1"}}"#,
    );
    ok(
        &s,
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/p1/binding?dryRun=All",
            "-f",
            p(&binding),
        ],
    );

    assert_eq!(
        ok(&s, &["get", "cm", "-o", "name"]),
        "configmap/keep\nconfigmap/kube-root-ca.crt\n"
    );
    assert_eq!(
        ok(
            &s,
            &["get", "cm", "keep", "-o", "jsonpath={.metadata.labels}"]
        ),
        ""
    );
    assert_eq!(
        ok(
            &s,
            &[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"
            ]
        ),
        "1 nginx"
    );
    assert_eq!(
        ok(&s, &["get", "pod", "p1", "-o", "jsonpath={.spec.nodeName}"]),
        ""
    );
}

#[test]
fn service_type_changes_allocate_and_release_node_ports() {
    let s = server();
    ok(
        &s,
        &[
            "create",
            "service",
            "clusterip",
            "web",
            "--tcp=80:8080",
            "--tcp=443:8443",
        ],
    );
    ok(
        &s,
        &[
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"type":"NodePort"}}"#,
        ],
    );
    let ports = ok(
        &s,
        &[
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.spec.ports[*].nodePort}",
        ],
    );
    let ports: Vec<u16> = ports.split(' ').map(|p| p.parse().unwrap()).collect();
    assert_eq!(ports.len(), 2);
    assert!(
        ports.iter().all(|p| (30000..=32767).contains(p)) && ports[0] != ports[1],
        "{ports:?}"
    );
    let shown = row(&ok(&s, &["get", "svc", "web"]), "web");
    assert_eq!(
        shown[4],
        format!("80:{}/TCP,443:{}/TCP", ports[0], ports[1])
    );

    // LoadBalancer keeps them; back to ClusterIP gives back what LoadBalancer brought along.
    ok(
        &s,
        &[
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"type":"LoadBalancer"}}"#,
        ],
    );
    assert_eq!(row(&ok(&s, &["get", "svc", "web"]), "web")[3], "<pending>");
    ok(
        &s,
        &[
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"type":"ClusterIP"}}"#,
        ],
    );
    let spec: serde_json::Value =
        serde_json::from_str(&ok(&s, &["get", "svc", "web", "-o", "jsonpath={.spec}"])).unwrap();
    assert!(
        spec["ports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("nodePort").is_none()),
        "{spec}"
    );
    assert!(
        spec.get("externalTrafficPolicy").is_none()
            && spec.get("allocateLoadBalancerNodePorts").is_none(),
        "{spec}"
    );

    // A node port another Service holds is refused.
    ok(
        &s,
        &[
            "create",
            "service",
            "nodeport",
            "np",
            "--tcp=80:80",
            "--node-port=30080",
        ],
    );
    let taken = s.kubectl(&[
        "patch", "svc", "web", "--type=merge", "-p",
        r#"{"spec":{"type":"NodePort","ports":[{"name":"80-8080","port":80,"targetPort":8080,"nodePort":30080}]}}"#,
    ]);
    assert_eq!(
        taken.stderr,
        "The Service \"web\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated\n"
    );
}

#[test]
fn duplicate_owner_references_are_dropped_with_a_warning() {
    let s = server();
    ok(&s, &["create", "configmap", "owner"]);
    let u = uid(&s, "cm/owner");
    let owned = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {u}}}\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {u}}}\n"
    );
    let created = s.kubectl_stdin(&["create", "-f", "-"], Some(&owned));
    assert_eq!(
        created.stdout,
        "configmap/owned created\n",
        "{}",
        created.all()
    );
    assert_eq!(
        created.stderr,
        format!(
            "Warning: .metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: {u}\n"
        )
    );
    let refs = ok(
        &s,
        &[
            "get",
            "cm",
            "owned",
            "-o",
            "jsonpath={.metadata.ownerReferences[*].uid}",
        ],
    );
    assert_eq!(refs, u);
    let again = format!(
        r#"[{{"op":"add","path":"/metadata/ownerReferences/-","value":{{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"{u}"}}}}]"#
    );
    let patched = s.kubectl(&["patch", "cm", "owned", "--type=json", "-p", &again]);
    assert_eq!(
        patched.stdout,
        "configmap/owned patched (no change)\n",
        "{}",
        patched.all()
    );
    assert!(
        patched.stderr.starts_with("Warning: .metadata.ownerReferences contains duplicate entries after mutating admission happens; "),
        "{}",
        patched.stderr
    );
}
