//! GitHub's CLI (`gh`, Debian's package; `scripts/install-gh`) against grantd. `gh` takes a
//! bare host name (no port: "invalid hostname") and speaks https to port 443, so a test's
//! server gets port 443 on a loopback address of the test's own (127.0.0.N, N from 7) under a
//! host name of its own (`grantd-N.test`), through an /etc/hosts line the test adds and removes.
//! Binding port 443 and writing /etc/hosts need root, as CI runs.
//!
//! Tests run in parallel processes: each takes the first address whose port 443 it can bind
//! (the bind is the claim), and every change of /etc/hosts is made under an exclusive lock on
//! a lock file, as a whole new file renamed into place, so that a `gh` reading it meanwhile
//! sees either version, never half of one.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tokio::net::TcpListener;

use super::{ServerOptions, TestServer};

const HOSTS: &str = "/etc/hosts";
const LOCK: &str = "/tmp/grantd-tests-etc-hosts.lock";
/// Marks the lines the suite adds, so that a line left by a killed test can be recognised.
const MARK: &str = "# grantd test";

/// A loopback address with its port 443 bound, named in /etc/hosts until dropped.
pub struct GhHost {
    pub name: String,
    line: String,
}

impl GhHost {
    /// Claims an address and a name; the listener on its port 443 is the caller's to serve.
    pub async fn claim() -> (Self, TcpListener) {
        for n in 7..=254u8 {
            let ip = Ipv4Addr::new(127, 0, 0, n);
            match TcpListener::bind((ip, 443)).await {
                Ok(listener) => {
                    let name = format!("grantd-{n}.test");
                    let line = format!("{ip} {name} {MARK}");
                    edit_hosts(|lines| {
                        // A line left for this name by a test that was killed goes first.
                        lines.retain(|l| !l.ends_with(MARK) || !l.contains(&format!(" {name} ")));
                        lines.push(line.clone());
                    });
                    return (Self { name, line }, listener);
                }
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {}
                Err(error) => panic!(
                    "cannot bind {ip}:443 ({error}): the gh tests need root (as CI runs), to \
                     give grantd port 443 under a host name of its own"
                ),
            }
        }
        panic!("every address 127.0.0.7 to 127.0.0.254 has its port 443 taken");
    }
}

impl Drop for GhHost {
    fn drop(&mut self) {
        let line = self.line.clone();
        edit_hosts(|lines| lines.retain(|l| *l != line));
    }
}

/// Rewrites /etc/hosts under the suite's lock: read, edit, written whole, renamed into place
/// (in place if it cannot be renamed over, as when it is a bind mount).
fn edit_hosts(edit: impl FnOnce(&mut Vec<String>)) {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK)
        .expect("open the /etc/hosts lock file");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("lock /etc/hosts");
    let text = std::fs::read_to_string(HOSTS).expect("read /etc/hosts");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    let mut new = lines.join("\n");
    new.push('\n');
    let partial = format!("{HOSTS}.grantd-{}", std::process::id());
    std::fs::write(&partial, &new).expect("write the new /etc/hosts");
    if let Ok(metadata) = std::fs::metadata(HOSTS) {
        let _ = std::fs::set_permissions(&partial, metadata.permissions());
    }
    if std::fs::rename(&partial, HOSTS).is_err() {
        let _ = std::fs::remove_file(&partial);
        std::fs::write(HOSTS, &new).expect("write /etc/hosts");
    }
    drop(lock); // unlocks
}

/// A grantd server over HTTPS on port 443 of its own loopback address, as `https://NAME`,
/// and the CA file `gh` is to trust.
pub struct GhServer {
    pub srv: TestServer,
    pub host: GhHost,
    pub ca_file: PathBuf,
    /// `gh`'s configuration directory (GH_CONFIG_DIR) and home, empty at first.
    pub config: tempfile::TempDir,
}

impl GhServer {
    pub async fn spawn() -> Self {
        Self::spawn_with(super::DEFAULT_FIXTURE, "").await
    }

    /// [`Self::spawn`] with the server seeded with `fixture`, its public URL
    /// `https://NAME{path}` (`path` "" or GHES's "/api/v3").
    pub async fn spawn_with(fixture: &str, path: &str) -> Self {
        let (host, listener) = GhHost::claim().await;
        let public_url = format!("https://{}{path}", host.name);
        let srv = TestServer::spawn_tls_on(
            Some(listener),
            Some(public_url),
            ServerOptions::default(),
            fixture,
        )
        .await;
        let ca_file = srv.dir().join("grantd.db.tls-ca.pem");
        Self {
            srv,
            host,
            ca_file,
            config: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs `gh ARGS` (stdin fed when given) with its configuration in `self.config`, trusting
    /// the server's CA through SSL_CERT_FILE alone, and `env` on top. Off the runtime's
    /// threads: the server answering `gh` runs on them.
    pub async fn gh(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let config = self.config.path().to_owned();
        let ca_file = self.ca_file.clone();
        let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
        let stdin = stdin.map(str::to_owned);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_gh(&config, &ca_file, &args, stdin.as_deref(), &env)
        })
        .await
        .expect("run gh")
    }
}

impl GhServer {
    /// Starts `gh ARGS` as [`Self::gh`] does, with no standard input, its standard output
    /// and error piped, for a test that talks to the server while `gh` runs (the device
    /// flow). The caller bounds how long it waits and kills it.
    pub fn start_gh(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        let mut command = gh_command(self.config.path(), &self.ca_file, args, env);
        command.stdin(Stdio::null());
        match command.spawn() {
            Ok(child) => child,
            Err(error) => panic!("cannot run gh ({error}): install it with scripts/install-gh"),
        }
    }
}

/// `gh ARGS` with nothing of the machine's own: no token, no configuration, no other CA.
fn gh_command(config: &Path, ca_file: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new("gh");
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", config)
        .env("GH_CONFIG_DIR", config.join("gh"))
        .env("SSL_CERT_FILE", ca_file)
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .env("GH_PROMPT_DISABLED", "1")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run_gh(
    config: &Path,
    ca_file: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    use std::io::Write;
    let mut command = gh_command(config, ca_file, args, env);
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => panic!("cannot run gh ({error}): install it with scripts/install-gh"),
    };
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    // A guard, not a synchronisation: a gh that hangs fails the test instead of the suite.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(Duration::from_mins(1)) else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("gh {args:?} did not finish within 60 s");
    };
    out.expect("wait for gh")
}
