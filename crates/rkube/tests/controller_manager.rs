//! `rkube controller-manager` runs the controllers alone against a server started with
//! `--disable-controllers`; of two managers only the holder of the
//! `kube-system/kube-controller-manager` Lease acts, and killing it hands over to the other.

use rkube_testkit::TestServer;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Manager {
    child: Child,
    log: PathBuf,
}

impl Manager {
    fn start(s: &TestServer, identity: &str) -> Manager {
        let log = s.data_dir().join(format!("{identity}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_rkube"))
            .args(["controller-manager", "--identity", identity, "--kubeconfig"])
            .arg(s.kubeconfig())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("creating the manager log"))
            .spawn()
            .expect("starting rkube controller-manager");
        Manager { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Manager {
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
        "kube-controller-manager",
        "-o",
        "jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}",
    ])
    .stdout
}

/// Create a Deployment and wait for the controllers to make its ReplicaSet.
fn deployment_gets_a_replica_set(s: &TestServer, name: &str) {
    let out = s.kubectl(&["create", "deployment", name, "--image=nginx"]);
    assert!(out.success, "{}", out.all());
    eventually(&format!("the ReplicaSet of {name}"), 30, || {
        let rs = s.kubectl(&["get", "rs", "-l", &format!("app={name}"), "-o", "name"]);
        (!rs.stdout.trim().is_empty()).then_some(())
    });
}

#[test]
fn two_controller_managers_elect_one_leader_and_hand_over() {
    let s = TestServer::start_with(
        Path::new(env!("CARGO_BIN_EXE_rkube")),
        &["--disable-controllers"],
    )
    .expect("server");
    // Without controllers nothing makes ReplicaSets.
    let out = s.kubectl(&["create", "deployment", "idle", "--image=nginx"]);
    assert!(out.success, "{}", out.all());
    std::thread::sleep(Duration::from_secs(1));
    let rs = s.kubectl(&["get", "rs", "-o", "name"]);
    assert_eq!(rs.stdout.trim(), "", "no controllers run in the server");

    let mut a = Some(Manager::start(&s, "manager-a"));
    let mut b = Some(Manager::start(&s, "manager-b"));
    let leader = eventually("a Lease holder", 30, || {
        let h = holder(&s);
        let id = h.split(' ').next().unwrap_or("").to_string();
        (id == "manager-a" || id == "manager-b").then_some(id)
    });
    deployment_gets_a_replica_set(&s, "first");
    eventually("the idle Deployment's ReplicaSet", 30, || {
        let rs = s.kubectl(&["get", "rs", "-l", "app=idle", "-o", "name"]);
        (!rs.stdout.trim().is_empty()).then_some(())
    });
    let (leader_log, follower_log) = if leader == "manager-a" {
        (a.as_ref().unwrap().log(), b.as_ref().unwrap().log())
    } else {
        (b.as_ref().unwrap().log(), a.as_ref().unwrap().log())
    };
    assert!(leader_log.contains("acquired the lease"), "{leader_log}");
    assert!(
        !follower_log.contains("acquired the lease"),
        "only one manager leads: {follower_log}"
    );
    assert!(
        !follower_log.contains("controller manager started"),
        "{follower_log}"
    );

    // Kill the leader (no chance to release the Lease): the other takes over once it expires.
    let survivor = if leader == "manager-a" {
        drop(a.take());
        "manager-b"
    } else {
        drop(b.take());
        "manager-a"
    };
    let h = eventually("the survivor to hold the Lease", 45, || {
        let h = holder(&s);
        h.starts_with(&format!("{survivor} ")).then_some(h)
    });
    assert_eq!(h, format!("{survivor} 1"), "one transition");
    deployment_gets_a_replica_set(&s, "second");
}
