//! Build inputs cargo cannot see by itself.
//!
//! - `sqlx::migrate!` embeds the SQL files at compile time, so a changed migration must rebuild.
//! - `grantd --version` names the commit it was built from (`GRANTD_COMMIT`), so an operator can
//!   tell which code a running server is; a build outside a git checkout (a source tarball)
//!   says "unknown commit".
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_owned()).filter(|text| !text.is_empty())
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    println!(
        "cargo:rustc-env=GRANTD_COMMIT={}",
        commit.as_deref().unwrap_or("unknown commit")
    );
    // Re-run when HEAD moves: HEAD itself (a checkout) and the ref it points at (a commit).
    // Paths come from git, so a worktree (whose `.git` is a file) works too.
    for path in ["HEAD", "refs/heads"] {
        if let Some(file) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(file) = git(&["rev-parse", "--git-path", &reference])
    {
        println!("cargo:rerun-if-changed={file}");
    }
}
