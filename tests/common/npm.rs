//! Real front-end packages from the npm registry, unpacked once under `target/real-libs` (or
//! found in `REAL_LIBS_DIR`): a package is marked there only when it unpacked whole.

use std::path::PathBuf;
use std::process::Command;

use super::text;

/// A folder holding each of `packages` (`name@version`) unpacked as `<name>-<version>/`.
pub fn packages(packages: &[&str]) -> PathBuf {
    if let Some(dir) = std::env::var_os("REAL_LIBS_DIR") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/real-libs");
    for package in packages {
        let folder = dir.join(package.replace('@', "-"));
        if folder.join(".unpacked").is_file() {
            continue;
        }
        // One download folder per package: tests fetching different packages run at once.
        let download = dir.join(format!("download-{}", package.replace(['@', '/'], "-")));
        let _ = std::fs::remove_dir_all(&download);
        std::fs::create_dir_all(&download).expect("mkdir");
        let packed = Command::new("npm")
            .args(["pack", "--silent", package])
            .current_dir(&download)
            .output()
            .expect("npm is needed to fetch the libraries (Debian: apt-get install npm)");
        assert!(
            packed.status.success(),
            "npm pack {package}: {}",
            text(&packed.stderr)
        );
        let tarball = text(&packed.stdout)
            .lines()
            .last()
            .expect("a tarball name")
            .to_string();
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).expect("mkdir");
        let unpacked = Command::new("tar")
            .arg("-xzf")
            .arg(download.join(tarball.trim()))
            .arg("-C")
            .arg(&folder)
            .arg("--strip-components=1")
            .status()
            .expect("tar");
        assert!(unpacked.success(), "unpacking {package}");
        std::fs::write(folder.join(".unpacked"), package).expect("mark");
        let _ = std::fs::remove_dir_all(&download);
    }
    dir
}
