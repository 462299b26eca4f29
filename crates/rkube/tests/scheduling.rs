//! End-to-end: `rkube server` schedules pods onto nodes from `rkube sim-nodes`, as kubectl shows.

use rkube_testkit::TestServer;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn eventually(what: &str, mut f: impl FnMut() -> Option<String>) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn sim_nodes_run_pods_the_server_schedules() {
    let s = TestServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_rkube"))).expect("server");
    let sim = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args([
            "sim-nodes",
            "--count",
            "3",
            "--cpu",
            "2",
            "--label",
            "disk=ssd",
            "--kubeconfig",
        ])
        .arg(s.kubeconfig())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim-nodes");
    let _sim = Killed(sim);
    eventually("3 Ready nodes", || {
        let out = s.kubectl(&["get", "nodes", "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}"]);
        (out.stdout.matches("True").count() == 3).then_some(out.stdout)
    });
    let run = s.kubectl(&[
        "run",
        "web",
        "--image=nginx:1.25",
        "--overrides",
        r#"{"spec":{"nodeSelector":{"disk":"ssd"}}}"#,
    ]);
    assert!(run.success, "{}", run.all());
    let row = eventually("web Running", || {
        let out = s.kubectl(&[
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.status.phase} {.spec.nodeName} {.status.podIP}",
        ]);
        out.stdout.starts_with("Running ").then_some(out.stdout)
    });
    let node = row.split(' ').nth(1).unwrap().to_string();
    assert!(node.starts_with("sim-node-"), "{row}");
    let describe = eventually("Scheduled event", || {
        let out = s.kubectl(&["describe", "pod", "web"]);
        out.stdout.contains("Scheduled").then_some(out.stdout)
    });
    assert!(
        describe.contains(&format!(
            "default-scheduler  Successfully assigned default/web to {node}"
        )),
        "{describe}"
    );
    let greedy = s.kubectl_stdin(&["apply", "-f", "-"], Some(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: greedy}\nspec:\n  containers:\n  - {name: app, image: nginx, resources: {requests: {cpu: \"1000\"}}}\n",
    ));
    assert!(greedy.success, "{}", greedy.all());
    let msg = eventually("FailedScheduling", || {
        let out = s.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=greedy,reason=FailedScheduling",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        (!out.stdout.is_empty()).then_some(out.stdout)
    });
    assert_eq!(
        msg,
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    );
    let cond = s.kubectl(&[
        "get",
        "pod",
        "greedy",
        "-o",
        "jsonpath={.status.phase} {.status.conditions[?(@.type==\"PodScheduled\")].reason}",
    ]);
    assert_eq!(cond.stdout, "Pending Unschedulable");
    // Deleting a running pod completes: the fake kubelet finishes the graceful deletion.
    let del = s.kubectl(&["delete", "pod", "web", "--timeout=20s"]);
    assert!(del.success, "{}", del.all());
}
