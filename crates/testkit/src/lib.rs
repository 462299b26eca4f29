//! Helpers for end-to-end tests: a real `rkube server` on a free port with its own data dir,
//! and the real `/usr/bin/kubectl` pointed at it.
//!
//! Every server gets a temporary directory and an OS-assigned port, so tests run in parallel
//! and never touch well-known ports. Servers are killed when dropped.

use anyhow::{Context, bail};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The kubectl tests use: `$KUBECTL`, else `/usr/bin/kubectl`.
pub fn kubectl_path() -> PathBuf {
    std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/kubectl"))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// A running `rkube server`.
pub struct TestServer {
    binary: PathBuf,
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    /// Flags added to every `rkube server` start.
    extra_args: Vec<String>,
}

/// What a kubectl run printed.
#[derive(Debug)]
pub struct KubectlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl KubectlOutput {
    fn from(o: Output) -> Self {
        Self {
            success: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// stdout and stderr together, as a user sees them.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl TestServer {
    /// Start `binary server` on a free port with a fresh data dir and wait until `/readyz`.
    pub fn start(binary: &Path) -> anyhow::Result<Self> {
        Self::start_with(binary, &[])
    }

    /// [`TestServer::start`] with extra `rkube server` flags (kept across restarts).
    pub fn start_with(binary: &Path, extra_args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("rkube-test").tempdir()?;
        let mut s = Self {
            binary: binary.to_path_buf(),
            dir,
            port: free_port(),
            child: None,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
        };
        s.spawn()?;
        Ok(s)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))?;
        let child = Command::new(&self.binary)
            .args(["server", "--data-dir"])
            .arg(self.dir.path())
            .args([
                "--bind-address",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--disable-agent",
            ])
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(30))
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("rkube server exited early ({status}); log:\n{}", self.log());
            }
            if self.kubeconfig().exists() {
                let out = self.kubectl(&["get", "--raw", "/readyz", "--request-timeout=2s"]);
                if out.success && out.stdout.trim() == "ok" {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "rkube server not ready after {timeout:?}; log:\n{}",
            self.log()
        )
    }

    /// Run kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        self.kubectl_stdin(args, None)
    }

    /// Run kubectl with `stdin` as its input (for `-f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> KubectlOutput {
        use std::io::Write;
        let mut cmd = Command::new(kubectl_path());
        cmd.arg("--kubeconfig").arg(self.kubeconfig()).args(args);
        cmd.env("HOME", self.dir.path()); // a private discovery cache per server
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("running kubectl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("writing kubectl's stdin");
        }
        KubectlOutput::from(child.wait_with_output().expect("waiting for kubectl"))
    }

    /// Start kubectl in the background (for `get -w`).
    pub fn kubectl_background(&self, args: &[&str]) -> Child {
        Command::new(kubectl_path())
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .env("HOME", self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl")
    }

    /// Stop with SIGTERM and wait (a clean shutdown).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            loop {
                if child.try_wait()?.is_some() {
                    break;
                }
                if start.elapsed() > Duration::from_secs(15) {
                    child.kill()?;
                    bail!("rkube server ignored SIGTERM for 15 s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Kill with SIGKILL (a crash).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start again on the same data dir and port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// Start again after a crash.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.spawn()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
