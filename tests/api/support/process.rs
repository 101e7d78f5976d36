//! Running the built `grantd` binary: one-shot management commands and `serve` processes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// The built binary
// ---------------------------------------------------------------------------------------------

pub const BIN: &str = env!("CARGO_BIN_EXE_grantd");

/// Runs `grantd ARGS` to completion, feeding `stdin` when given.
pub fn grantd(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut command = Command::new(BIN);
    if let Some(key) = args.iter().find_map(|arg| super::secret_key_file_for(arg)) {
        command.env("GRANTD_SECRET_KEY_FILE", key);
    }
    let mut child = command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run grantd");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    // A guard, not a synchronisation: a command that hangs (say, `serve` starting when it
    // should have refused) fails the test instead of blocking the suite.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(Duration::from_mins(1)) else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("grantd {args:?} did not finish within 60 s");
    };
    out.expect("wait for grantd")
}

/// A `grantd serve` child process, killed (SIGKILL) on drop if still running.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// The lines `serve` printed on stdout before `grantd listening on ADDR`.
    pub printed: Vec<String>,
}

impl ServerProcess {
    /// Starts `grantd serve --listen 127.0.0.1:0 --db DB_URL EXTRA...` and waits for its
    /// `grantd listening on ADDR` line.
    pub fn start(db_url: &str, extra: &[&str], stderr_file: &Path) -> Self {
        let stderr = std::fs::File::create(stderr_file).expect("stderr file");
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--db", db_url];
        args.extend_from_slice(extra);
        let mut command = Command::new(BIN);
        if let Some(key) = super::secret_key_file_for(db_url) {
            command.env("GRANTD_SECRET_KEY_FILE", key);
        }
        let child = command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("start grantd serve");
        Self::from_child(child, stderr_file)
    }

    /// Waits for a started `grantd serve` (stdout piped) to print `grantd listening on ADDR`.
    pub fn from_child(mut child: Child, stderr_file: &Path) -> Self {
        use std::io::{BufRead, BufReader, Read};
        let stdout = child.stdout.take().expect("stdout pipe");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut addr = None;
        let mut printed = Vec::new();
        // Reading blocks until the server prints; EOF means it died before binding.
        while reader.read_line(&mut line).expect("read stdout") > 0 {
            if let Some(rest) = line.trim().strip_prefix("grantd listening on ") {
                addr = Some(
                    rest.parse::<SocketAddr>()
                        .unwrap_or_else(|e| panic!("bad address {rest:?}: {e}")),
                );
                break;
            }
            printed.push(line.trim_end().to_owned());
            line.clear();
        }
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(stderr_file).unwrap_or_default();
            panic!(
                "grantd serve exited without printing `grantd listening on ADDR`; stderr:\n{log}"
            );
        };
        // Keep draining stdout so that a chatty server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        Self {
            child,
            addr,
            printed,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `METHOD path` with HTTP Basic `auth` and an optional JSON body: the status and the body
    /// as JSON (`null` if it is none).
    pub async fn send(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        auth: (&str, &str),
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = client
            .request(method, self.url(path))
            .basic_auth(auth.0, Some(auth.1));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("the server answers");
        let status = reply.status().as_u16();
        let text = reply.text().await.expect("read the body");
        (status, serde_json::from_str(&text).unwrap_or_default())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write file");
    path
}
