//! Temporary run folders of the integration tests (mole-train's, and mole-cli's through a
//! `#[path]` module).

use std::path::{Path, PathBuf};

/// `$TMPDIR/KIND-NAME-PID`, removed if it exists (the run creates it). Folders of the same
/// `KIND-NAME-` whose process has ended are removed first, so repeated test runs do not fill
/// the disk with old run directories.
pub fn temp_dir(kind: &str, name: &str) -> PathBuf {
    let prefix = format!("{kind}-{name}-");
    let tmp = std::env::temp_dir();
    remove_stale(&tmp, &prefix);
    let p = tmp.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// Removes `dir/PREFIX<pid>` folders whose process is no longer running (Linux's `/proc` tells;
/// elsewhere nothing is removed).
fn remove_stale(dir: &Path, prefix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
