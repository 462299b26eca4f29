//! The books' example manifests (tests/data/manifests, copied from the project's shared set) go
//! through `kubectl apply --dry-run=server` and a real `kubectl apply` against a real
//! `rkube server`, and are accepted or rejected as upstream v1.33 does, with upstream's error text.
//! `expectations.yaml` there says what upstream does with each one.

use rkube_testkit::{KubectlOutput, TestServer};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/manifests")
}

/// One row of expectations.yaml.
struct Expectation {
    file: String,
    accepted: bool,
    error: String,
    requires: Vec<String>,
    /// The objects a second apply reports `configured` (kubectl's three-way patch is not
    /// empty against upstream either: write-only fields, server defaults in atomic lists,
    /// numbers stored as quantity strings).
    reapply_configured: Vec<String>,
}

/// A list of strings in expectations.yaml (absent: none).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn expectations() -> Vec<Expectation> {
    let text = std::fs::read_to_string(data_dir().join("expectations.yaml"))
        .expect("reading expectations.yaml");
    let rows: Vec<Value> = serde_norway::from_str(&text).expect("parsing expectations.yaml");
    rows.into_iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let outcome = s("outcome");
            assert!(
                outcome == "accepted" || outcome == "rejected",
                "bad outcome in {r}"
            );
            Expectation {
                file: s("file"),
                accepted: outcome == "accepted",
                error: s("error"),
                reapply_configured: strings(&r["reapply_configured"]),
                requires: strings(&r["requires"]),
            }
        })
        .collect()
}

/// Every manifest file under the data directory, relative to it.
fn manifest_files() -> BTreeSet<String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).expect("reading the manifests directory") {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|x| x == "yaml")
                && p.file_name().is_some_and(|n| n != "expectations.yaml")
            {
                let rel = p.strip_prefix(base).expect("under the base");
                out.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&data_dir(), &data_dir(), &mut out);
    out
}

/// How many API objects a manifest holds (YAML documents with a `kind`).
fn object_count(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("reading a manifest");
    text.lines().filter(|l| l.starts_with("kind:")).count()
}

/// Whether a manifest names its own namespaces (then kubectl must not be given another one).
fn names_namespace(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).expect("reading a manifest");
    text.lines().any(|l| l.starts_with("  namespace:"))
}

struct Runner {
    server: TestServer,
    next_ns: usize,
    done: BTreeSet<String>,
    failures: Vec<String>,
}

impl Runner {
    fn new() -> Runner {
        Runner {
            server: TestServer::start(Path::new(env!("CARGO_BIN_EXE_rkube")))
                .expect("starting rkube server"),
            next_ns: 0,
            done: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        self.server.kubectl(args)
    }

    /// `kubectl <args> -f <file>`, in `ns` unless the file names its own namespaces.
    fn on_file(&self, args: &[&str], file: &str, ns: &str) -> KubectlOutput {
        let path = data_dir().join(file);
        let path = path.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        if !names_namespace(Path::new(&path)) {
            all.extend(["-n", ns]);
        }
        all.extend(["-f", &path]);
        self.kubectl(&all)
    }

    fn fail(&mut self, file: &str, what: &str, out: &KubectlOutput) {
        self.failures
            .push(format!("{file}: {what}\n--- kubectl said:\n{}", out.all()));
    }

    /// Lines of stdout must each end with `suffix`, one per object.
    fn check_lines(&mut self, e: &Expectation, out: &KubectlOutput, suffix: &str, what: &str) {
        let count = object_count(&data_dir().join(&e.file));
        let lines: Vec<&str> = out.stdout.lines().collect();
        if !out.success || lines.len() != count || !lines.iter().all(|l| l.ends_with(suffix)) {
            self.fail(
                &e.file,
                &format!("{what}: expected {count} lines ending in {suffix:?}"),
                out,
            );
        }
    }

    fn check_rejected(&mut self, e: &Expectation, out: &KubectlOutput, what: &str) {
        if out.success || !out.all().contains(&e.error) {
            self.fail(
                &e.file,
                &format!("{what}: expected a rejection with {:?}", e.error),
                out,
            );
        }
    }

    fn run(&mut self, e: &Expectation, all: &[Expectation]) {
        if !self.done.insert(e.file.clone()) {
            return;
        }
        // Prerequisites run first as rows of their own, so their objects are created there.
        for r in &e.requires {
            let row = all
                .iter()
                .find(|x| &x.file == r)
                .unwrap_or_else(|| panic!("{}: requires unknown {r}", e.file));
            self.run(row, all);
        }
        self.next_ns += 1;
        let ns = format!("m{}", self.next_ns);
        let created = self.kubectl(&["create", "namespace", &ns]);
        assert!(created.success, "{}", created.all());
        for r in &e.requires {
            let out = self.on_file(&["apply"], r, &ns);
            if !out.success {
                self.fail(&e.file, &format!("applying prerequisite {r}"), &out);
            }
        }

        let dry = self.on_file(&["apply", "--dry-run=server"], &e.file, &ns);
        if !e.accepted {
            self.check_rejected(e, &dry, "apply --dry-run=server");
            let real = self.on_file(&["apply"], &e.file, &ns);
            self.check_rejected(e, &real, "apply");
            return;
        }
        self.check_lines(
            e,
            &dry,
            " created (server dry run)",
            "apply --dry-run=server",
        );
        let after_dry = self.on_file(&["get", "--ignore-not-found", "-o", "name"], &e.file, &ns);
        if !after_dry.success || !after_dry.stdout.trim().is_empty() {
            self.fail(&e.file, "a server dry run must create nothing", &after_dry);
        }
        let real = self.on_file(&["apply"], &e.file, &ns);
        self.check_lines(e, &real, " created", "apply");
        let got = self.on_file(&["get", "-o", "name"], &e.file, &ns);
        if !got.success || got.stdout.lines().count() != object_count(&data_dir().join(&e.file)) {
            self.fail(&e.file, "every applied object can be read back", &got);
        }
        // A second apply changes nothing, yet kubectl says `configured` where its three-way patch
        // is not empty against upstream too (`reapply_configured`), else `unchanged`.
        let again = self.on_file(&["apply"], &e.file, &ns);
        let expected: Vec<String> = again
            .stdout
            .lines()
            .map(|l| {
                let object = l.rsplit_once(' ').map_or(l, |(o, _)| o);
                let word = if e.reapply_configured.iter().any(|c| c == object) {
                    "configured"
                } else {
                    "unchanged"
                };
                format!("{object} {word}")
            })
            .collect();
        let count = object_count(&data_dir().join(&e.file));
        let got: Vec<&str> = again.stdout.lines().collect();
        if !again.success || got.len() != count || got != expected {
            self.fail(
                &e.file,
                &format!("a second apply: expected {expected:?}"),
                &again,
            );
        }
    }
}

/// Run every row whose file starts with one of `prefixes`, on a server of their own.
fn run_group(prefixes: &[&str]) {
    let all = expectations();
    let mut runner = Runner::new();
    let mut ran = 0;
    for e in all
        .iter()
        .filter(|e| prefixes.iter().any(|p| e.file.starts_with(p)))
    {
        runner.run(e, &all);
        ran += 1;
    }
    assert!(ran > 0, "no manifests match {prefixes:?}");
    assert!(
        runner.failures.is_empty(),
        "{} of {ran} manifests misbehaved:\n\n{}",
        runner.failures.len(),
        runner.failures.join("\n\n")
    );
}

#[test]
fn expectations_cover_every_manifest() {
    let listed: BTreeSet<String> = expectations().into_iter().map(|e| e.file).collect();
    let present = manifest_files();
    let unlisted: Vec<_> = present.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&present).collect();
    assert!(
        unlisted.is_empty(),
        "manifests without an expectation: {unlisted:?}"
    );
    assert!(
        missing.is_empty(),
        "expectations without a manifest: {missing:?}"
    );
    for e in expectations() {
        assert!(
            e.accepted || !e.error.is_empty(),
            "{}: rejected needs its error",
            e.file
        );
    }
}

#[test]
fn kubernetes_for_developers_ch03_to_ch05() {
    run_group(&["seed-000/ch03", "seed-000/ch04", "seed-000/ch05"]);
}

#[test]
fn kubernetes_for_developers_ch06_to_ch07() {
    run_group(&["seed-000/ch06", "seed-000/ch07"]);
}

#[test]
fn kubernetes_for_developers_ch08_to_ch09() {
    run_group(&["seed-000/ch08", "seed-000/ch09"]);
}

#[test]
fn kubernetes_for_developers_ch10_to_ch12() {
    run_group(&["seed-000/ch10", "seed-000/ch11", "seed-000/ch12"]);
}

#[test]
fn kubernetes_in_action() {
    run_group(&["seed-002/ch"]);
}

#[test]
fn kubernetes_in_action_code_archive() {
    run_group(&["seed-002/archive"]);
}

#[test]
fn other_books_rejected_by_upstream() {
    run_group(&["other-books/"]);
}
