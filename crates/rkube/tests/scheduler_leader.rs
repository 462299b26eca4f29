//! `rkube scheduler` runs the scheduler alone against a server started with
//! `--disable-scheduler`; of two schedulers only the holder of the `kube-system/kube-scheduler`
//! Lease schedules, and killing it hands over to the other.

use rkube_testkit::TestServer;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(s: &TestServer, name: &str, args: &[&str]) -> Process {
        let log = s.data_dir().join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_rkube"))
            .args(args)
            .arg("--kubeconfig")
            .arg(s.kubeconfig())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("creating the log"))
            .spawn()
            .expect("starting rkube");
        Process { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("timed out waiting for {what}");
}

fn holder(s: &TestServer) -> String {
    s.kubectl(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-scheduler",
        "-o",
        "jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}",
    ])
    .stdout
}

/// Create a pod and wait until it is bound to the simulated node.
fn pod_gets_scheduled(s: &TestServer, name: &str) {
    let out = s.kubectl(&["run", name, "--image=nginx:1.25"]);
    assert!(out.success, "{}", out.all());
    eventually(&format!("{name} to be scheduled"), 30, || {
        let node = s.kubectl(&["get", "pod", name, "-o", "jsonpath={.spec.nodeName}"]);
        (node.stdout.trim() == "sim0").then_some(())
    });
}

#[test]
fn two_schedulers_elect_one_leader_and_hand_over() {
    let s = TestServer::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-scheduler"],
    )
    .expect("server");
    let _nodes = Process::start(
        &s,
        "sim",
        &["sim-nodes", "--count", "1", "--name-prefix", "sim"],
    );
    let mut a = Some(Process::start(
        &s,
        "sched-a",
        &["scheduler", "--identity", "sched-a"],
    ));
    let mut b = Some(Process::start(
        &s,
        "sched-b",
        &["scheduler", "--identity", "sched-b"],
    ));
    let leader = eventually("a Lease holder", 30, || {
        let h = holder(&s);
        let id = h.split(' ').next().unwrap_or("").to_string();
        (id == "sched-a" || id == "sched-b").then_some(id)
    });
    pod_gets_scheduled(&s, "first");
    let (leader_log, follower_log) = if leader == "sched-a" {
        (a.as_ref().unwrap().log(), b.as_ref().unwrap().log())
    } else {
        (b.as_ref().unwrap().log(), a.as_ref().unwrap().log())
    };
    assert!(leader_log.contains("acquired the lease"), "{leader_log}");
    assert!(
        !follower_log.contains("rkube scheduler running"),
        "only one scheduler runs: {follower_log}"
    );

    // Kill the leader (no chance to release the Lease): the other takes over once it expires.
    let survivor = if leader == "sched-a" {
        drop(a.take());
        "sched-b"
    } else {
        drop(b.take());
        "sched-a"
    };
    let h = eventually("the survivor to hold the Lease", 45, || {
        let h = holder(&s);
        h.starts_with(&format!("{survivor} ")).then_some(h)
    });
    assert_eq!(h, format!("{survivor} 1"), "one transition");
    pod_gets_scheduled(&s, "second");
}
