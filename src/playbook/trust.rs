//! What root runs comes from files only root can change. A playbook names commands, a nginx
//! binary, a regex that selects processes to kill and files to read as secrets; if another user
//! could edit it (or swap it, through a directory they can write), running it as root hands
//! them root. As root, such a file is refused, like sudo and sshd's StrictModes do.

use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// Whether files must pass [`check`]: only when fixer runs as root.
pub fn required() -> bool {
    crate::state::is_root()
}

/// Why root must not use the file at `path`, whose open descriptor's fstat is `meta`.
pub fn check(path: &Path, meta: &Metadata) -> Result<(), String> {
    check_for(0, path, meta)
}

/// [`check`] for files `owner` (or root) may own; tests pass their own uid to run anywhere.
fn check_for(owner: u32, path: &Path, meta: &Metadata) -> Result<(), String> {
    let trusted = |uid: u32| uid == 0 || uid == owner;
    if !trusted(meta.uid()) {
        return Err(format!("it is owned by {}, not root", user(meta.uid())));
    }
    if meta.mode() & GROUP_OR_OTHER_WRITE != 0 {
        return Err(format!(
            "it is writable by {} (mode {:04o})",
            writers(meta.mode()),
            meta.permissions().mode() & 0o7777
        ));
    }
    let absolute = absolute(path);
    for dir in ancestors(&absolute).chain(canonical_ancestors(&absolute)) {
        check_dir(&dir, trusted)?;
    }
    check_links(&absolute, trusted)
}

/// `chown root:root FILE; chmod go-w FILE`, or where a root-owned copy belongs.
pub const REMEDY: &str = "make it owned by root and writable only by root, in directories only \
     root can change (e.g. /etc/fixer/playbooks), or run fixer as the user who owns it";

fn check_dir(dir: &Path, trusted: impl Fn(u32) -> bool) -> Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !trusted(meta.uid()) {
        return Err(format!(
            "its directory {} is owned by {}, not root",
            dir.display(),
            user(meta.uid())
        ));
    }
    let mode = meta.mode();
    if mode & GROUP_OR_OTHER_WRITE != 0 && mode & STICKY == 0 {
        return Err(format!(
            "its directory {} is writable by {} (mode {:04o}) without the sticky bit, so they \
             can replace the file",
            dir.display(),
            writers(mode),
            mode & 0o7777
        ));
    }
    Ok(())
}

/// A symlink on the way belongs to whoever made it; only root's are followed.
fn check_links(path: &Path, trusted: impl Fn(u32) -> bool) -> Result<(), String> {
    let mut so_far = PathBuf::new();
    for part in path.components() {
        so_far.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&so_far) else {
            continue;
        };
        if meta.file_type().is_symlink() && !trusted(meta.uid()) {
            return Err(format!(
                "the symlink {} on its path is owned by {}, not root",
                so_far.display(),
                user(meta.uid())
            ));
        }
    }
    Ok(())
}

/// `path` from the root directory, so a message says which `./playbooks` was meant.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Every directory above `path`, nearest first; `..` is resolved by the canonical pass.
fn ancestors(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    path.ancestors()
        .skip(1)
        .filter(|p| !p.as_os_str().is_empty())
        .filter(|p| !p.components().any(|c| c == Component::ParentDir))
        .map(Path::to_path_buf)
}

fn canonical_ancestors(path: &Path) -> Vec<PathBuf> {
    std::fs::canonicalize(path)
        .map(|c| ancestors(&c).collect())
        .unwrap_or_default()
}

fn writers(mode: u32) -> &'static str {
    match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "group and others",
        (true, false) => "its group",
        _ => "others",
    }
}

fn user(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(
            || format!("uid {uid}"),
            |u| format!("{} (uid {uid})", u.name),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_in(dir_mode: u32, file_mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pb.toml");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file_mode)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(dir_mode)).unwrap();
        (dir, path)
    }

    fn verdict(path: &Path) -> Result<(), String> {
        let me = rustix::process::geteuid().as_raw();
        check_for(me, path, &std::fs::metadata(path).unwrap())
    }

    #[test]
    fn an_owned_file_in_protected_dirs_passes() {
        let (_d, path) = file_in(0o755, 0o644);
        assert_eq!(verdict(&path), Ok(()));
        let (_d, path) = file_in(0o1777, 0o600);
        assert_eq!(
            verdict(&path),
            Ok(()),
            "a sticky directory protects the file"
        );
    }

    #[test]
    fn writable_files_and_dirs_are_named() {
        let (_d, path) = file_in(0o755, 0o666);
        assert_eq!(
            verdict(&path).unwrap_err(),
            "it is writable by group and others (mode 0666)"
        );
        let (_d, path) = file_in(0o755, 0o620);
        assert_eq!(
            verdict(&path).unwrap_err(),
            "it is writable by its group (mode 0620)"
        );
        let (d, path) = file_in(0o777, 0o644);
        let e = verdict(&path).unwrap_err();
        let want = format!(
            "its directory {} is writable by group and others (mode 0777) without the sticky bit",
            d.path().display()
        );
        assert!(e.starts_with(&want), "{e}");
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        let (_d, path) = file_in(0o755, 0o644);
        let me = rustix::process::geteuid().as_raw();
        let owner = if me == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            0
        } else {
            me + 1
        };
        let e = check_for(owner, &path, &std::fs::metadata(&path).unwrap()).unwrap_err();
        assert!(
            e.starts_with("it is owned by ") && e.ends_with(", not root"),
            "{e}"
        );
    }
}
