//! Records the commit the binary is built from, for `stapler --version`: the short hash, with
//! `-modified` when the work tree differs from it, or `unknown` outside a git checkout (a
//! source archive, a wheel's sdist).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn main() {
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|changes| !changes.is_empty());
            if dirty {
                format!("{hash}-modified")
            } else {
                hash
            }
        }
        _ => "unknown".to_string(),
    };
    // Not `STAPLER_…`: cargo also sets it for the tests it runs, and stapler refuses
    // environment variables with its prefix that are not settings.
    println!("cargo:rustc-env=BUILT_FROM_COMMIT={commit}");
    // A new commit or a staged change moves HEAD or the index; edits to sources rebuild anyway.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        for file in ["HEAD", "index"] {
            println!("cargo:rerun-if-changed={dir}/{file}");
        }
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{head}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
