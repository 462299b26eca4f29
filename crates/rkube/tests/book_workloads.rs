//! The books' workload manifests (tests/data/manifests/seed-000, copied from the shared set) run
//! on a real `rkube server` with simulated nodes from `rkube sim-nodes`, and reach the states
//! their `# expect:` lines describe, as the real kubectl shows them: Deployments Available, rolling
//! and Recreate updates, a blue/green switch, Jobs (plain, Indexed, parallel) and a CronJob,
//! StatefulSets with claims from their templates (Bound through the default `local-path`
//! StorageClass), claims of a Deployment and a pre-linked PersistentVolume/claim pair as
//! `kubectl get pvc,pv` shows them, DaemonSets on every eligible node, a PodDisruptionBudget's
//! status and PriorityClasses.
//!
//! Each test starts its own server and nodes, so the test runner runs them side by side; inside
//! a test, independent manifests go to their own namespaces and are checked concurrently.

use rkube_testkit::{KubectlOutput, TestServer};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any state may take to appear (generous: the machine is shared).
const TIMEOUT: Duration = Duration::from_secs(90);

fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/manifests/seed-000")
        .join(name)
}

/// A child process killed when dropped.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server with simulated nodes.
struct Cluster {
    server: TestServer,
    _nodes: Vec<Killed>,
}

/// One `rkube sim-nodes` process: how many nodes, their name prefix and extra flags.
struct NodeGroup<'a> {
    count: usize,
    prefix: &'a str,
    flags: &'a [&'a str],
}

impl Cluster {
    fn start(groups: &[NodeGroup]) -> Cluster {
        let server =
            TestServer::start(Path::new(env!("CARGO_BIN_EXE_rkube"))).expect("starting rkube");
        let mut nodes = Vec::new();
        let mut total = 0;
        for g in groups {
            total += g.count;
            let child = Command::new(env!("CARGO_BIN_EXE_rkube"))
                .args(["sim-nodes", "--count", &g.count.to_string()])
                .args(["--name-prefix", g.prefix])
                .args(g.flags)
                .arg("--kubeconfig")
                .arg(server.kubeconfig())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting rkube sim-nodes");
            nodes.push(Killed(child));
        }
        let c = Cluster {
            server,
            _nodes: nodes,
        };
        c.eventually(&format!("{total} Ready nodes"), || {
            let out = c.kubectl(&[
                "get",
                "nodes",
                "-o",
                r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
            ]);
            (out.stdout.matches("True").count() == total).then_some(())
        });
        c
    }

    fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        self.server.kubectl(args)
    }

    /// kubectl that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.success, "kubectl {args:?} failed: {}", out.all());
        out.stdout
    }

    fn namespace(&self, ns: &str) {
        self.ok(&["create", "namespace", ns]);
    }

    /// `kubectl apply -f <manifest> -n ns`; what kubectl printed.
    fn apply(&self, ns: &str, file: &str) -> String {
        let path = manifest(file);
        self.ok(&["apply", "-n", ns, "-f", path.to_str().expect("utf-8 path")])
    }

    /// A jsonpath query in a namespace.
    fn jsonpath(&self, ns: &str, what: &[&str], path: &str) -> String {
        let mut args = vec!["get", "-n", ns];
        args.extend_from_slice(what);
        let query = format!("jsonpath={path}");
        args.extend_from_slice(&["-o", &query]);
        self.ok(&args)
    }

    /// Poll `f` until it returns a value, failing after [`TIMEOUT`] with the server's log tail.
    fn eventually<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            if start.elapsed() > TIMEOUT {
                let log = self.server.log();
                let tail: String = log
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                panic!("timed out waiting for {what}; server log tail:\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Wait for a Deployment to report `n` ready, updated and available replicas of its latest
    /// generation, as `kubectl rollout status` decides.
    fn rolled_out(&self, ns: &str, deploy: &str, n: usize) {
        let out = self.ok(&[
            "rollout",
            "status",
            "-n",
            ns,
            &format!("deployment/{deploy}"),
            &format!("--timeout={}s", TIMEOUT.as_secs()),
        ]);
        assert!(out.contains("successfully rolled out"), "{out}");
        let row = self.ok(&["get", "deploy", deploy, "-n", ns, "--no-headers"]);
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cols[1..4],
            [format!("{n}/{n}").as_str(), &n.to_string(), &n.to_string()],
            "READY UP-TO-DATE AVAILABLE of {row}"
        );
    }

    /// Images of the live (not terminating) pods matching `selector`, sorted.
    fn live_images(&self, ns: &str, selector: &str) -> Vec<String> {
        let out = self.jsonpath(
            ns,
            &["pods", "-l", selector],
            r#"{range .items[*]}{.spec.containers[0].image}{" "}{.metadata.deletionTimestamp}{"\n"}{end}"#,
        );
        let mut v: Vec<String> = out
            .lines()
            .filter(|l| l.split_whitespace().count() == 1)
            .map(|l| l.trim().to_string())
            .collect();
        v.sort();
        v
    }

    /// Names, phases and nodes of the pods matching `selector`.
    fn pods(&self, ns: &str, selector: &str) -> Vec<(String, String, String)> {
        self.jsonpath(
            ns,
            &["pods", "-l", selector],
            r#"{range .items[*]}{.metadata.name}{" "}{.status.phase}{" "}{.spec.nodeName}{"\n"}{end}"#,
        )
        .lines()
        .map(|l| {
            let mut w = l.split(' ');
            let mut next = || w.next().unwrap_or_default().to_string();
            (next(), next(), next())
        })
        .collect()
    }
}

/// Run the closures on threads and re-raise the first panic.
fn concurrently(checks: Vec<Box<dyn FnOnce() + Send + '_>>) {
    std::thread::scope(|s| {
        let handles: Vec<_> = checks.into_iter().map(|c| s.spawn(c)).collect();
        for h in handles {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
}

fn three_plain_nodes() -> Cluster {
    Cluster::start(&[NodeGroup {
        count: 3,
        prefix: "sim-node-",
        flags: &[],
    }])
}

#[test]
fn deployments_roll_out_recreate_and_switch_blue_green() {
    let c = three_plain_nodes();
    concurrently(vec![
        // ch03: create, READY 3/3; apply v2, rolling update to :2.
        Box::new(|| {
            c.namespace("ch03");
            let out = c.apply("ch03", "ch03-deploy-timeserver.yaml");
            assert_eq!(out.trim(), "deployment.apps/timeserver created");
            c.rolled_out("ch03", "timeserver", 3);
            let pods = c.pods("ch03", "pod=timeserver-pod");
            assert_eq!(pods.len(), 3, "{pods:?}");
            for (name, phase, node) in &pods {
                assert!(name.starts_with("timeserver-"), "{name}");
                assert_eq!(phase, "Running");
                assert!(node.starts_with("sim-node-"), "{node}");
            }
            let table = c.ok(&["get", "pods", "-n", "ch03", "--no-headers"]);
            for row in table.lines() {
                let cols: Vec<&str> = row.split_whitespace().collect();
                assert_eq!(cols[1..4], ["1/1", "Running", "0"], "{row}");
            }
            let out = c.apply("ch03", "ch03-deploy-timeserver-v2.yaml");
            assert_eq!(out.trim(), "deployment.apps/timeserver configured");
            c.rolled_out("ch03", "timeserver", 3);
            c.eventually("only :2 pods", || {
                let images = c.live_images("ch03", "pod=timeserver-pod");
                (images == vec!["docker.io/wdenniss/timeserver:2"; 3]).then_some(())
            });
            let rs = c.ok(&["get", "rs", "-n", "ch03", "--no-headers"]);
            let replicas: Vec<&str> = rs
                .lines()
                .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
                .collect();
            let mut sorted = replicas.clone();
            sorted.sort();
            assert_eq!(sorted, ["0", "3"], "old ReplicaSet scaled to 0: {rs}");
        }),
        // ch04 RollingUpdate maxSurge 2 / maxUnavailable 1: never more than 5 pods, never
        // fewer than 2 available.
        Box::new(|| {
            c.namespace("rolling");
            c.apply("rolling", "ch04-deploy-timeserver-rollingupdate.yaml");
            c.rolled_out("rolling", "timeserver", 3);
            c.ok(&[
                "set",
                "image",
                "-n",
                "rolling",
                "deployment/timeserver",
                "timeserver-container=docker.io/wdenniss/timeserver:2",
            ]);
            c.eventually("the rolling update to finish within its bounds", || {
                let counts = c.jsonpath(
                    "rolling",
                    &["deploy", "timeserver"],
                    "{.status.replicas} {.status.availableReplicas} {.status.updatedReplicas} {.metadata.generation} {.status.observedGeneration}",
                );
                let n: Vec<i64> = counts
                    .split_whitespace()
                    .map(|x| x.parse().unwrap_or(0))
                    .collect();
                assert!(n[0] <= 5, "more than replicas+maxSurge pods: {counts}");
                assert!(n[1] >= 2, "more than maxUnavailable unavailable: {counts}");
                (n.len() == 5 && n[0] == 3 && n[1] == 3 && n[2] == 3 && n[3] == n[4]).then_some(())
            });
            c.rolled_out("rolling", "timeserver", 3);
            c.eventually("only :2 pods", || {
                let images = c.live_images("rolling", "pod=timeserver-pod");
                (images == vec!["docker.io/wdenniss/timeserver:2"; 3]).then_some(())
            });
        }),
        // ch04 Recreate: every old pod goes before a new one is created.
        Box::new(|| {
            c.namespace("recreate");
            c.apply("recreate", "ch03-deploy-timeserver.yaml");
            c.rolled_out("recreate", "timeserver", 3);
            let out = c.apply("recreate", "ch04-deploy-timeserver-recreate.yaml");
            assert_eq!(out.trim(), "deployment.apps/timeserver configured");
            c.rolled_out("recreate", "timeserver", 3);
            c.eventually("only :3 pods", || {
                let images = c.live_images("recreate", "pod=timeserver-pod");
                (images == vec!["docker.io/wdenniss/timeserver:3"; 3]).then_some(())
            });
            // The new ReplicaSet was created only after the old pods were gone: its pods are
            // all newer than the last old pod's deletion, which the events order shows.
            let events = c.jsonpath(
                "recreate",
                &[
                    "events",
                    "--field-selector",
                    "involvedObject.kind=Deployment",
                    "--sort-by=.metadata.creationTimestamp",
                ],
                r#"{range .items[*]}{.message}{"\n"}{end}"#,
            );
            let lines: Vec<&str> = events.lines().collect();
            let down = lines.iter().position(|l| {
                l.starts_with("Scaled down replica set") && l.ends_with(" to 0 from 3")
            });
            let old_rs = down.map(|d| lines[d].split_whitespace().nth(4).unwrap_or_default());
            let up = lines.iter().rposition(|l| {
                l.starts_with("Scaled up replica set") && l.split_whitespace().nth(4) != old_rs
            });
            assert!(
                matches!((down, up), (Some(d), Some(u)) if d < u),
                "Recreate scales the old ReplicaSet to 0 before scaling the new one up: {events}"
            );
        }),
        // ch04 blue/green: both colours run; the Service selects blue, then green.
        Box::new(|| {
            c.namespace("bluegreen");
            let out = c.apply("bluegreen", "ch04-bluegreen-timeserver.yaml");
            assert!(
                out.contains("deployment.apps/timeserver-blue created"),
                "{out}"
            );
            assert!(out.contains("service/timeserver created"), "{out}");
            c.rolled_out("bluegreen", "timeserver-blue", 3);
            c.rolled_out("bluegreen", "timeserver-green", 3);
            let all = c.pods("bluegreen", "pod in (timeserver-blue,timeserver-green)");
            assert_eq!(all.len(), 6, "{all:?}");
            let selected = |c: &Cluster| {
                let sel = c.jsonpath("bluegreen", &["svc", "timeserver"], "{.spec.selector.pod}");
                c.live_images("bluegreen", &format!("pod={sel}"))
            };
            assert_eq!(selected(&c), vec!["docker.io/wdenniss/timeserver:1"; 3]);
            c.ok(&[
                "patch",
                "svc",
                "timeserver",
                "-n",
                "bluegreen",
                "-p",
                r#"{"spec":{"selector":{"pod":"timeserver-green"}}}"#,
            ]);
            assert_eq!(selected(&c), vec!["docker.io/wdenniss/timeserver:2"; 3]);
        }),
        // ch05/ch06 priority classes: pods take the class's value.
        Box::new(|| {
            c.namespace("priority");
            let out = c.apply("priority", "ch05-priorityclass-high-priority.yaml");
            assert_eq!(
                out.trim(),
                "priorityclass.scheduling.k8s.io/high-priority created"
            );
            c.apply("priority", "ch05-deploy-timeserver-priority.yaml");
            c.rolled_out("priority", "timeserver", 3);
            let prios = c.jsonpath(
                "priority",
                &["pods", "-l", "pod=timeserver-pod"],
                r#"{range .items[*]}{.spec.priority}{" "}{.spec.priorityClassName}{"\n"}{end}"#,
            );
            assert_eq!(prios, "1000000 high-priority\n".repeat(3));
            let pc = c.ok(&["get", "priorityclass", "high-priority", "--no-headers"]);
            let cols: Vec<&str> = pc.split_whitespace().collect();
            assert_eq!(cols[..3], ["high-priority", "1000000", "false"], "{pc}");
            c.apply("priority", "ch06-balloon-priorityclass-deploy.yaml");
            c.rolled_out("priority", "balloon-deploy", 10);
            let prios = c.jsonpath(
                "priority",
                &["pods", "-l", "app=balloon"],
                r#"{range .items[*]}{.spec.priority}{" "}{.spec.preemptionPolicy}{"\n"}{end}"#,
            );
            assert_eq!(prios, "-10 Never\n".repeat(10));
        }),
        // ch06: six replicas, as `kubectl scale` would do.
        Box::new(|| {
            c.namespace("scale");
            c.apply("scale", "ch03-deploy-timeserver.yaml");
            c.rolled_out("scale", "timeserver", 3);
            let out = c.apply("scale", "ch06-deploy-timeserver-replicas6.yaml");
            assert_eq!(out.trim(), "deployment.apps/timeserver configured");
            c.rolled_out("scale", "timeserver", 6);
        }),
    ]);
}

#[test]
fn jobs_complete_plain_indexed_and_parallel_and_cron_creates_jobs() {
    let c = three_plain_nodes();
    concurrently(vec![
        // ch10 addwork: COMPLETIONS 1/1, pod Completed.
        Box::new(|| {
            c.namespace("addwork");
            let out = c.apply("addwork", "ch10-job-addwork.yaml");
            assert_eq!(out.trim(), "job.batch/addwork created");
            c.ok(&[
                "wait",
                "-n",
                "addwork",
                "--for=condition=Complete",
                "job/addwork",
                "--timeout=90s",
            ]);
            let row = c.ok(&["get", "job", "addwork", "-n", "addwork", "--no-headers"]);
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols[..3], ["addwork", "Complete", "1/1"], "{row}");
            let pods = c.ok(&["get", "pods", "-n", "addwork", "--no-headers"]);
            let cols: Vec<&str> = pods.split_whitespace().collect();
            assert!(cols[0].starts_with("addwork-"), "{pods}");
            assert_eq!(cols[1..3], ["0/1", "Completed"], "{pods}");
        }),
        // ch10 Indexed: 5/5, pods echo-<index>-<id>, at most 3 at once, each with its index.
        Box::new(|| {
            c.namespace("indexed");
            let out = c.apply("indexed", "ch10-job-indexed-echo.yaml");
            assert_eq!(out.trim(), "job.batch/echo created");
            c.eventually("echo Complete", || {
                let running = c
                    .pods("indexed", "batch.kubernetes.io/job-name=echo")
                    .iter()
                    .filter(|(_, phase, _)| phase == "Running" || phase == "Pending")
                    .count();
                assert!(running <= 3, "more pods than parallelism 3 at once");
                let cond = c.jsonpath(
                    "indexed",
                    &["job", "echo"],
                    r#"{.status.conditions[?(@.type=="Complete")].status}"#,
                );
                (cond == "True").then_some(())
            });
            let row = c.ok(&["get", "job", "echo", "-n", "indexed", "--no-headers"]);
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols[..3], ["echo", "Complete", "5/5"], "{row}");
            let indexes = c.jsonpath(
                "indexed",
                &["job", "echo"],
                "{.status.completedIndexes} {.status.succeeded}",
            );
            assert_eq!(indexes, "0-4 5");
            let pods = c.jsonpath(
                "indexed",
                &["pods", "-l", "batch.kubernetes.io/job-name=echo", "--field-selector=status.phase=Succeeded"],
                r#"{range .items[*]}{.metadata.name}{" "}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}{" "}{.spec.containers[0].env[?(@.name=="JOB_COMPLETION_INDEX")].valueFrom.fieldRef.fieldPath}{"\n"}{end}"#,
            );
            let mut seen: Vec<String> = Vec::new();
            for l in pods.lines() {
                let w: Vec<&str> = l.split(' ').collect();
                assert!(w[0].starts_with(&format!("echo-{}-", w[1])), "{l}");
                assert_eq!(
                    w[2], "metadata.annotations['batch.kubernetes.io/job-completion-index']",
                    "{l}"
                );
                seen.push(w[1].to_string());
            }
            seen.sort();
            assert_eq!(seen, ["0", "1", "2", "3", "4"], "{pods}");
        }),
        // ch10 parallel worker queue: two pods at once, the Job completes when they finish.
        Box::new(|| {
            c.namespace("worker");
            let out = c.apply("worker", "ch10-job-worker-parallel.yaml");
            assert_eq!(out.trim(), "job.batch/jobworker created");
            c.ok(&[
                "wait",
                "-n",
                "worker",
                "--for=condition=Complete",
                "job/jobworker",
                "--timeout=90s",
            ]);
            let created = c.jsonpath(
                "worker",
                &["pods", "-l", "pod=pi"],
                r#"{range .items[*]}{.metadata.name}{"\n"}{end}"#,
            );
            assert_eq!(created.lines().count(), 2, "parallelism 2: {created}");
            let row = c.ok(&["get", "job", "jobworker", "-n", "worker", "--no-headers"]);
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols[..2], ["jobworker", "Complete"], "{row}");
            assert_eq!(cols[3..5], ["of", "2"], "COMPLETIONS n/1 of 2: {row}");
        }),
        // ch10 CronJob: a Job (and its pod) from the schedule; here every minute, not five.
        Box::new(|| {
            c.namespace("cron");
            let out = c.apply("cron", "ch10-cronjob-addwork.yaml");
            assert_eq!(out.trim(), "cronjob.batch/addwork created");
            let row = c.ok(&["get", "cronjob", "addwork", "-n", "cron", "--no-headers"]);
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols[..2], ["addwork", "*/5"], "{row}");
            // A Job made by hand from the template, as `kubectl create job --from` does.
            c.ok(&[
                "create",
                "job",
                "-n",
                "cron",
                "manual",
                "--from=cronjob/addwork",
            ]);
            c.ok(&[
                "wait",
                "-n",
                "cron",
                "--for=condition=Complete",
                "job/manual",
                "--timeout=90s",
            ]);
            c.ok(&[
                "patch",
                "cronjob",
                "addwork",
                "-n",
                "cron",
                "-p",
                r#"{"spec":{"schedule":"* * * * *"}}"#,
            ]);
            let job = c.eventually("a scheduled Job", || {
                let owned = c.jsonpath(
                    "cron",
                    &["jobs"],
                    r#"{range .items[?(@.metadata.ownerReferences[0].kind=="CronJob")]}{.metadata.name}{"\n"}{end}"#,
                );
                // `kubectl create job --from` also names the CronJob as owner.
                owned
                    .lines()
                    .find(|l| l.starts_with("addwork-"))
                    .map(str::to_string)
            });
            assert!(job.starts_with("addwork-"), "{job}");
            c.ok(&[
                "wait",
                "-n",
                "cron",
                "--for=condition=Complete",
                &format!("job/{job}"),
                "--timeout=90s",
            ]);
            c.eventually("lastSuccessfulTime", || {
                let t = c.jsonpath(
                    "cron",
                    &["cronjob", "addwork"],
                    "{.status.lastScheduleTime} {.status.lastSuccessfulTime}",
                );
                (t.split_whitespace().count() == 2).then_some(())
            });
            let out = c.ok(&[
                "delete",
                "-n",
                "cron",
                "-f",
                manifest("ch10-cronjob-addwork.yaml").to_str().unwrap(),
            ]);
            assert_eq!(out.trim(), "cronjob.batch \"addwork\" deleted");
        }),
    ]);
}

/// Pod names, in the order they were created.
fn creation_order(c: &Cluster, ns: &str, selector: &str) -> Vec<String> {
    c.ok(&[
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        selector,
        "--sort-by=.metadata.creationTimestamp",
        "-o",
        "name",
    ])
    .lines()
    .map(|l| l.trim_start_matches("pod/").to_string())
    .collect()
}

/// The claims of a namespace as `kubectl get pvc` lists them: NAME, STATUS, VOLUME, CAPACITY,
/// ACCESS MODES, STORAGECLASS, VOLUMEATTRIBUTESCLASS, AGE (upstream's columns, checked against
/// the header), sorted by name.
fn claims(c: &Cluster, ns: &str) -> Vec<Vec<String>> {
    table(
        c,
        &["get", "pvc", "-n", ns],
        "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE",
    )
}

/// The rows of a `kubectl get` table whose header is `header` (words), cells split by the
/// header's column starts (so empty cells stay in place), sorted.
fn table(c: &Cluster, args: &[&str], header: &str) -> Vec<Vec<String>> {
    let out = c.ok(args);
    let mut lines = out.lines();
    let head = lines.next().unwrap_or_default();
    assert_eq!(
        head.split_whitespace().collect::<Vec<_>>().join(" "),
        header,
        "{out}"
    );
    // Column starts: where a word follows two spaces (or the line start).
    let mut starts = vec![0];
    let bytes = head.as_bytes();
    for i in 2..bytes.len() {
        if bytes[i] != b' ' && bytes[i - 1] == b' ' && bytes[i - 2] == b' ' {
            starts.push(i);
        }
    }
    let mut rows: Vec<Vec<String>> = lines
        .map(|l| {
            starts
                .iter()
                .enumerate()
                .map(|(k, &s)| {
                    let e = starts.get(k + 1).copied().unwrap_or(l.len()).min(l.len());
                    l.get(s.min(l.len())..e)
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Wait until every claim of `ns` is Bound; the rows then.
fn bound_claims(c: &Cluster, ns: &str, n: usize) -> Vec<Vec<String>> {
    c.eventually(&format!("{n} Bound claims in {ns}"), || {
        let rows = claims(c, ns);
        (rows.len() == n && rows.iter().all(|r| r[1] == "Bound")).then_some(rows)
    })
}

/// A claim's row up to its storage class, with the volume's name checked apart (it is
/// `pvc-<claim uid>` for a provisioned volume).
fn claim_row(c: &Cluster, ns: &str, row: &[String]) -> Vec<String> {
    let uid = c.jsonpath(ns, &["pvc", &row[0]], "{.metadata.uid}");
    assert_eq!(row[2], format!("pvc-{uid}"), "{row:?}");
    [&row[..2], &row[3..7]].concat()
}

#[test]
fn statefulsets_create_ordered_pods_with_claims_from_templates() {
    let c = three_plain_nodes();
    concurrently(vec![
        // ch09 MariaDB: mariadb-0 Running with claim mariadb-pvc-mariadb-0 (2Gi RWO), kept
        // when the StatefulSet goes and mounted again when it comes back.
        Box::new(|| {
            c.namespace("mariadb");
            let out = c.apply("mariadb", "ch09-statefulset-mariadb.yaml");
            assert!(out.contains("statefulset.apps/mariadb created"), "{out}");
            assert!(out.contains("service/mariadb-service created"), "{out}");
            c.ok(&[
                "rollout",
                "status",
                "-n",
                "mariadb",
                "statefulset/mariadb",
                "--timeout=90s",
            ]);
            let pods = c.pods("mariadb", "app=mariadb-sts");
            assert_eq!(pods.len(), 1);
            assert_eq!(
                (pods[0].0.as_str(), pods[0].1.as_str()),
                ("mariadb-0", "Running")
            );
            let claim = c.jsonpath(
                "mariadb",
                &["pod", "mariadb-0"],
                r#"{.spec.volumes[?(@.name=="mariadb-pvc")].persistentVolumeClaim.claimName} {.spec.hostname} {.spec.subdomain}"#,
            );
            assert_eq!(claim, "mariadb-pvc-mariadb-0 mariadb-0 mariadb-service");
            let pvc = c.jsonpath(
                "mariadb",
                &["pvc", "mariadb-pvc-mariadb-0"],
                "{.spec.resources.requests.storage} {.spec.accessModes[0]} {.metadata.labels.app}",
            );
            assert_eq!(pvc, "2Gi ReadWriteOnce mariadb-sts");
            // `kubectl get pvc` -> mariadb-pvc-mariadb-0 Bound 2Gi RWO (default class local-path).
            let rows = bound_claims(&c, "mariadb", 1);
            assert_eq!(
                claim_row(&c, "mariadb", &rows[0]),
                [
                    "mariadb-pvc-mariadb-0",
                    "Bound",
                    "2Gi",
                    "RWO",
                    "local-path",
                    "<unset>"
                ]
            );
            // The provisioned volume is on the pod's node.
            let node = c.jsonpath("mariadb", &["pod", "mariadb-0"], "{.spec.nodeName}");
            let volume = &rows[0][2];
            let pinned = c.ok(&[
                "get",
                "pv",
                volume,
                "-o",
                "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}",
            ]);
            assert_eq!(pinned, node);
            let uid = c.jsonpath(
                "mariadb",
                &["pvc", "mariadb-pvc-mariadb-0"],
                "{.metadata.uid}",
            );
            c.ok(&[
                "delete",
                "statefulset",
                "mariadb",
                "-n",
                "mariadb",
                "--wait=true",
            ]);
            c.eventually("mariadb-0 gone", || {
                c.pods("mariadb", "app=mariadb-sts")
                    .is_empty()
                    .then_some(())
            });
            assert_eq!(
                c.jsonpath(
                    "mariadb",
                    &["pvc", "mariadb-pvc-mariadb-0"],
                    "{.metadata.uid}"
                ),
                uid,
                "the claim outlives the StatefulSet"
            );
            c.apply("mariadb", "ch09-statefulset-mariadb.yaml");
            c.ok(&[
                "rollout",
                "status",
                "-n",
                "mariadb",
                "statefulset/mariadb",
                "--timeout=90s",
            ]);
            assert_eq!(
                c.jsonpath(
                    "mariadb",
                    &["pvc", "mariadb-pvc-mariadb-0"],
                    "{.metadata.uid}"
                ),
                uid,
                "the re-created StatefulSet uses the same claim"
            );
        }),
        // ch09 Redis (3 replicas as printed): redis-0, -1, -2 in order, each with its claim.
        Box::new(|| {
            c.namespace("redis");
            c.apply("redis", "ch09-redis-configmap-single.yaml");
            let out = c.apply("redis", "ch09-statefulset-redis-single.yaml");
            assert!(out.contains("statefulset.apps/redis created"), "{out}");
            c.ok(&[
                "rollout",
                "status",
                "-n",
                "redis",
                "statefulset/redis",
                "--timeout=90s",
            ]);
            assert_eq!(
                creation_order(&c, "redis", "app=redis-sts"),
                ["redis-0", "redis-1", "redis-2"]
            );
            // OrderedReady: each pod is created once its predecessor is Ready.
            for (prev, next) in [("redis-0", "redis-1"), ("redis-1", "redis-2")] {
                let ready = c.jsonpath(
                    "redis",
                    &["pod", prev],
                    r#"{.status.conditions[?(@.type=="Ready")].lastTransitionTime}"#,
                );
                let created = c.jsonpath("redis", &["pod", next], "{.metadata.creationTimestamp}");
                assert!(
                    created >= ready,
                    "{next} created at {created}, before {prev} was Ready at {ready}"
                );
            }
            // Each pod its own claim, Bound 1Gi RWO.
            let rows: Vec<Vec<String>> = bound_claims(&c, "redis", 3)
                .iter()
                .map(|r| claim_row(&c, "redis", r))
                .collect();
            let want = |n: usize| {
                [
                    format!("redis-pvc-redis-{n}"),
                    "Bound".into(),
                    "1Gi".into(),
                    "RWO".into(),
                    "local-path".into(),
                    "<unset>".into(),
                ]
            };
            assert_eq!(rows, [want(0), want(1), want(2)]);
            let row = c.ok(&["get", "statefulset", "redis", "-n", "redis", "--no-headers"]);
            assert!(row.split_whitespace().nth(1) == Some("3/3"), "{row}");
        }),
        // ch09 multi-role Redis: init container, ConfigMap, the same ordered pods and claims.
        Box::new(|| {
            c.namespace("multirole");
            let out = c.apply(
                "multirole",
                "ch09-redis-multirole-configmap-statefulset.yaml",
            );
            assert!(out.contains("configmap/redis-config created"), "{out}");
            c.ok(&[
                "rollout",
                "status",
                "-n",
                "multirole",
                "statefulset/redis",
                "--timeout=90s",
            ]);
            assert_eq!(
                creation_order(&c, "multirole", "app=redis-sts"),
                ["redis-0", "redis-1", "redis-2"]
            );
            let sizes = c.jsonpath(
                "multirole",
                &["pvc"],
                r#"{range .items[*]}{.metadata.name}={.spec.resources.requests.storage}{" "}{end}"#,
            );
            assert_eq!(
                sizes.trim(),
                "redis-pvc-redis-0=1Gi redis-pvc-redis-1=1Gi redis-pvc-redis-2=1Gi"
            );
        }),
    ]);
}

#[test]
fn claims_of_a_deployment_and_a_pre_linked_pair_are_bound() {
    let c = three_plain_nodes();
    concurrently(vec![
        // ch09 Deployment + PVC: the pod Running, mariadb-pvc Bound (2Gi RWO), dynamically
        // provisioned through the default class once the pod has a node.
        Box::new(|| {
            c.namespace("deploy");
            let out = c.apply("deploy", "ch09-deploy-mariadb-pvc.yaml");
            assert!(
                out.contains("deployment.apps/mariadb-demo created"),
                "{out}"
            );
            assert!(
                out.contains("persistentvolumeclaim/mariadb-pvc created"),
                "{out}"
            );
            c.rolled_out("deploy", "mariadb-demo", 1);
            let rows = bound_claims(&c, "deploy", 1);
            assert_eq!(
                claim_row(&c, "deploy", &rows[0]),
                [
                    "mariadb-pvc",
                    "Bound",
                    "2Gi",
                    "RWO",
                    "local-path",
                    "<unset>"
                ]
            );
            let pvs = table(
                &c,
                &["get", "pv", &rows[0][2]],
                "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE",
            );
            assert_eq!(
                pvs[0][1..9],
                [
                    "2Gi",
                    "RWO",
                    "Delete",
                    "Bound",
                    "deploy/mariadb-pvc",
                    "local-path",
                    "<unset>",
                    ""
                ]
            );
            let pods = c.pods("deploy", "app=mariadb");
            assert_eq!(pods.len(), 1);
            assert_eq!(pods[0].1, "Running");
            let selected = c.jsonpath(
                "deploy",
                &["pvc", "mariadb-pvc"],
                r#"{.metadata.annotations.volume\.kubernetes\.io/selected-node}"#,
            );
            assert_eq!(selected, pods[0].2, "the claim's node is the pod's");
        }),
        // ch09 recovery: a PV pre-linked to its claim (claimRef without uid, volumeName,
        // storageClassName "") binds; Retain shows in RECLAIM POLICY.
        Box::new(|| {
            let out = c.apply(
                "default",
                "ch09-recover-prelinked-pv-pvc-RECONSTRUCTED.yaml",
            );
            assert!(
                out.contains("persistentvolume/pvc-f0fea6ae-e229 created"),
                "{out}"
            );
            let rows = bound_claims(&c, "default", 1);
            assert_eq!(
                rows[0][..7],
                [
                    "redis-pvc-redis-0",
                    "Bound",
                    "pvc-f0fea6ae-e229",
                    "1Gi",
                    "RWO",
                    "",
                    "<unset>"
                ]
            );
            let pvs = table(
                &c,
                &["get", "pv", "pvc-f0fea6ae-e229"],
                "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE",
            );
            assert_eq!(
                pvs[0][..9],
                [
                    "pvc-f0fea6ae-e229",
                    "1Gi",
                    "RWO",
                    "Retain",
                    "Bound",
                    "default/redis-pvc-redis-0",
                    "",
                    "<unset>",
                    ""
                ]
            );
        }),
        // A pod whose claim does not exist waits with upstream's message.
        Box::new(|| {
            c.namespace("missing");
            c.ok(&[
                "run", "orphan", "-n", "missing", "--image=busybox", "--overrides",
                r#"{"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "x"}}]}}"#,
            ]);
            let msg = c.eventually("orphan unschedulable", || {
                let m = c.jsonpath(
                    "missing",
                    &["pod", "orphan"],
                    r#"{.status.conditions[?(@.type=="PodScheduled")].message}"#,
                );
                (!m.is_empty()).then_some(m)
            });
            assert_eq!(
                msg,
                "0/3 nodes are available: persistentvolumeclaim \"x\" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
            );
        }),
    ]);
}

#[test]
fn daemonsets_run_one_pod_per_eligible_node() {
    let c = Cluster::start(&[
        NodeGroup {
            count: 2,
            prefix: "plain-",
            flags: &[],
        },
        NodeGroup {
            count: 1,
            prefix: "spot-",
            flags: &["--taint", "instance=spot:NoSchedule"],
        },
        NodeGroup {
            count: 1,
            prefix: "arm-",
            flags: &["--label", "kubernetes.io/arch=arm64"],
        },
    ]);
    let nodes_of = |ns: &str, selector: &str| -> Vec<String> {
        let mut v: Vec<String> = c
            .pods(ns, selector)
            .into_iter()
            .filter(|(_, phase, _)| phase == "Running")
            .map(|(_, _, node)| node)
            .collect();
        v.sort();
        v
    };
    let ds_row = |ns: &str, name: &str| -> Vec<String> {
        c.ok(&["get", "ds", name, "-n", ns, "--no-headers"])
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    concurrently(vec![
        // ch08: tolerating every taint, one pod on every node; then (Listing 8.7) none on arm64.
        Box::new(|| {
            c.namespace("tolerate");
            c.apply("tolerate", "ch08-daemonset-tolerate-all-taints.yaml");
            c.eventually("example-ds on all 4 nodes", || {
                (nodes_of("tolerate", "pod=example-pod")
                    == ["arm-0", "plain-0", "plain-1", "spot-0"])
                .then_some(())
            });
            c.ok(&[
                "rollout",
                "status",
                "-n",
                "tolerate",
                "ds/example-ds",
                "--timeout=90s",
            ]);
            assert_eq!(
                ds_row("tolerate", "example-ds")[1..6],
                ["4", "4", "4", "4", "4"]
            );
            let out = c.apply("tolerate", "ch08-daemonset-tolerate-antiaffinity.yaml");
            assert_eq!(out.trim(), "daemonset.apps/example-ds configured");
            c.eventually("example-ds off the arm64 node", || {
                (nodes_of("tolerate", "pod=example-pod") == ["plain-0", "plain-1", "spot-0"])
                    .then_some(())
            });
            c.ok(&[
                "rollout",
                "status",
                "-n",
                "tolerate",
                "ds/example-ds",
                "--timeout=90s",
            ]);
            assert_eq!(
                ds_row("tolerate", "example-ds")[1..6],
                ["3", "3", "3", "3", "3"]
            );
        }),
        // ch12 logreader: one pod per node it tolerates (not the tainted spot node).
        Box::new(|| {
            c.namespace("logreader");
            let out = c.apply("logreader", "ch12-daemonset-logreader.yaml");
            assert_eq!(out.trim(), "daemonset.apps/logreader created");
            c.eventually("logreader on the 3 untainted nodes", || {
                (nodes_of("logreader", "ds=logreaderpod") == ["arm-0", "plain-0", "plain-1"])
                    .then_some(())
            });
            let names = c.pods("logreader", "ds=logreaderpod");
            assert!(
                names
                    .iter()
                    .all(|(n, _, _)| n.starts_with("logreader-")
                        && n.len() == "logreader-".len() + 5),
                "{names:?}"
            );

            // A surge update (maxSurge 1, maxUnavailable 0): a new pod starts beside the old
            // one on each node in turn, and the rollout completes with one pod per node.
            c.ok(&[
                "patch", "ds", "logreader", "-n", "logreader", "-p",
                r#"{"spec":{"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}"#,
            ]);
            c.ok(&[
                "set",
                "image",
                "-n",
                "logreader",
                "ds/logreader",
                "logreadercontainer=ubuntu:24.04",
            ]);
            c.ok(&[
                "rollout",
                "status",
                "-n",
                "logreader",
                "ds/logreader",
                "--timeout=90s",
            ]);
            c.eventually("only ubuntu:24.04 daemons", || {
                (c.live_images("logreader", "ds=logreaderpod") == vec!["ubuntu:24.04"; 3])
                    .then_some(())
            });
        }),
        // ch12 privileged admin DaemonSet: allowed where Pod Security is not enforced.
        Box::new(|| {
            c.namespace("admin");
            c.apply("admin", "ch12-daemonset-admin-privileged.yaml");
            c.eventually("admin-workload on the 3 untainted nodes", || {
                (nodes_of("admin", "name=admin-app") == ["arm-0", "plain-0", "plain-1"])
                    .then_some(())
            });
        }),
    ]);
}

#[test]
fn pod_disruption_budget_counts_healthy_pods() {
    let c = three_plain_nodes();
    c.namespace("pdb");
    c.apply("pdb", "ch03-deploy-timeserver.yaml");
    let out = c.apply("pdb", "ch12-pdb-timeserver.yaml");
    assert_eq!(
        out.trim(),
        "poddisruptionbudget.policy/timeserver-pdb created"
    );
    c.rolled_out("pdb", "timeserver", 3);
    c.eventually("PDB status", || {
        let s = c.jsonpath(
            "pdb",
            &["pdb", "timeserver-pdb"],
            "{.status.currentHealthy} {.status.desiredHealthy} {.status.expectedPods} {.status.disruptionsAllowed}",
        );
        (s == "3 2 3 1").then_some(())
    });
    let row = c.ok(&["get", "pdb", "timeserver-pdb", "-n", "pdb", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[..4], ["timeserver-pdb", "N/A", "1", "1"], "{row}");

    // With no room for replacements, the budget allows one eviction and refuses the next
    // at once (the first took the only disruption), and a drain cannot finish.
    for n in ["sim-node-0", "sim-node-1", "sim-node-2"] {
        c.ok(&["cordon", n]);
    }
    let pods = c.pods("pdb", "pod=timeserver-pod");
    let evict = |pod: &str| {
        let body =
            std::env::temp_dir().join(format!("rkube-evict-{}-{pod}.json", std::process::id()));
        std::fs::write(
            &body,
            format!(r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{pod}","namespace":"pdb"}}}}"#),
        )
        .unwrap();
        let path = format!("/api/v1/namespaces/pdb/pods/{pod}/eviction");
        let out = c.kubectl(&["create", "--raw", &path, "-f", body.to_str().unwrap()]);
        let _ = std::fs::remove_file(&body);
        out
    };
    let first = evict(&pods[0].0);
    assert!(first.success, "{}", first.all());
    assert!(
        first.stdout.contains(r#""status":"Success""#),
        "{}",
        first.stdout
    );
    let second = evict(&pods[1].0);
    assert!(!second.success, "{}", second.all());
    assert!(
        second.stderr.contains(
            "Error from server (TooManyRequests): Cannot evict pod as it would violate the pod's disruption budget."
        ),
        "{}",
        second.stderr
    );
    c.eventually("PDB status after one eviction", || {
        let s = c.jsonpath(
            "pdb",
            &["pdb", "timeserver-pdb"],
            "{.status.currentHealthy} {.status.desiredHealthy} {.status.disruptionsAllowed} {.status.conditions[0].reason}",
        );
        (s == "2 2 0 InsufficientPods").then_some(())
    });
    let stuck = c.kubectl(&[
        "drain",
        &pods[1].2,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=8s",
    ]);
    assert!(!stuck.success, "{}", stuck.all());
    assert!(
        stuck.stderr.contains(&format!(
            "error when evicting pods/\"{}\" -n \"pdb\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.",
            pods[1].0
        )),
        "{}",
        stuck.stderr
    );
    assert!(
        c.pods("pdb", "pod=timeserver-pod")
            .iter()
            .any(|(name, _, _)| name == &pods[1].0),
        "the refused pod is still there"
    );
    // Two budgets over one pod: upstream refuses to choose.
    c.ok(&[
        "create",
        "pdb",
        "extra",
        "-n",
        "pdb",
        "--selector=pod=timeserver-pod",
        "--min-available=1",
    ]);
    let ambiguous = evict(&pods[1].0);
    assert!(
        ambiguous.stderr.contains(
            "Error from server: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
        ),
        "{}",
        ambiguous.all()
    );
    c.ok(&["delete", "pdb", "extra", "-n", "pdb"]);
    for n in ["sim-node-0", "sim-node-1", "sim-node-2"] {
        c.ok(&["uncordon", n]);
    }
    c.rolled_out("pdb", "timeserver", 3);

    // A drain evicts through the budget and waits for replacements: it finishes, and the
    // Deployment is whole again on the remaining nodes.
    let node = c.pods("pdb", "pod=timeserver-pod")[0].2.clone();
    c.ok(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=90s",
    ]);
    c.rolled_out("pdb", "timeserver", 3);
    assert!(
        c.pods("pdb", "pod=timeserver-pod")
            .iter()
            .all(|(_, _, n)| n != &node),
        "no pod left on the drained node"
    );
}
