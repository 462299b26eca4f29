//! End-to-end: the official Python `kubernetes` client (in the virtualenv `setup.sh` makes at
//! `target/pyenv`) drives a real `rkube server` through `tests/python/client_checks.py`:
//! CRUD, selectors, watch, conflicts, patches and Status errors across several resources.

use rkube_testkit::TestServer;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The virtualenv's python: `$RKUBE_PYTHON`, else `<workspace>/target/pyenv/bin/python`.
fn venv_python() -> PathBuf {
    if let Some(p) = std::env::var_os("RKUBE_PYTHON") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python")
}

#[test]
fn python_kubernetes_client_works_against_rkube() {
    let python = venv_python();
    let has_client = Command::new(&python)
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_client,
        "no Python `kubernetes` client at {}: run ./setup.sh first (it creates target/pyenv), \
         or point RKUBE_PYTHON at a python that has it",
        python.display()
    );

    let server =
        TestServer::start(Path::new(env!("CARGO_BIN_EXE_rkube"))).expect("starting rkube server");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_checks.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(server.kubeconfig())
        .output()
        .expect("running the Python checks");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python client checks failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}\n{stderr}");
}
