//! A unix socket's file on disk, and whether a given process may connect to it. connect() on
//! a unix socket needs search permission on every directory of the path and write permission
//! on the socket itself; a php-fpm pool whose `listen.owner`/`listen.mode` leave nginx's
//! worker user out gives nginx `(13: Permission denied)` while the pool itself is healthy.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The credentials the kernel checks file access with: the filesystem uid and gid, and the
/// supplementary groups (from /proc/PID/status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl Identity {
    pub fn of_pid(pid: i32) -> Option<Identity> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        Identity::parse(pid, &text)
    }

    /// `Uid:`/`Gid:` are real, effective, saved, filesystem; access uses the last.
    pub fn parse(pid: i32, status: &str) -> Option<Identity> {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name));
        let fs_id =
            |name: &str| -> Option<u32> { field(name)?.split_whitespace().nth(3)?.parse().ok() };
        Some(Identity {
            pid,
            uid: fs_id("Uid:")?,
            gid: fs_id("Gid:")?,
            groups: field("Groups:")
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect(),
        })
    }

    /// `nobody (uid 65534)`.
    pub fn user(&self) -> String {
        format!("{} (uid {})", crate::users::name(self.uid), self.uid)
    }
}

/// What the path is, read once with lstat semantics for the last component followed.
#[derive(Debug, Clone)]
pub struct SocketFile {
    pub path: PathBuf,
    pub meta: Result<FileMeta, std::io::ErrorKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    pub is_socket: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Why a process may not connect: the first path component that stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub at: PathBuf,
    pub reason: String,
}

impl SocketFile {
    pub fn read(path: &Path) -> SocketFile {
        SocketFile {
            path: path.to_path_buf(),
            meta: std::fs::metadata(path)
                .map(|m| meta(&m))
                .map_err(|e| e.kind()),
        }
    }

    pub fn exists(&self) -> bool {
        self.meta.is_ok()
    }

    /// `socket, mode 0660, owner www-data:www-data` / `no such file`.
    pub fn describe(&self) -> String {
        match &self.meta {
            Ok(m) if m.is_socket => format!("socket file, {}", owner_mode(m)),
            Ok(m) => format!("exists but is not a socket ({})", owner_mode(m)),
            Err(std::io::ErrorKind::NotFound) => "no such file".into(),
            Err(k) => format!("cannot be read ({k})"),
        }
    }

    /// Whether `who` passes the permission checks connect() makes. Root passes them all
    /// (CAP_DAC_OVERRIDE); POSIX ACLs are not read, so a file with one is not judged (None).
    pub fn access(&self, who: &Identity) -> Option<Result<(), Denial>> {
        let m = self.meta.ok()?;
        if who.uid == 0 {
            return Some(Ok(()));
        }
        let mut dirs: Vec<&Path> = self.path.ancestors().skip(1).collect();
        dirs.reverse();
        for dir in dirs {
            let d = meta(&std::fs::metadata(dir).ok()?);
            if has_acl(dir) {
                return None;
            }
            if !allowed(&d, who, 0o1) {
                return Some(Err(Denial {
                    at: dir.to_path_buf(),
                    reason: format!(
                        "directory {} ({}) is not searchable by {}",
                        dir.display(),
                        owner_mode(&d),
                        who.user()
                    ),
                }));
            }
        }
        if has_acl(&self.path) {
            return None;
        }
        if allowed(&m, who, 0o2) {
            return Some(Ok(()));
        }
        Some(Err(Denial {
            at: self.path.clone(),
            reason: format!(
                "the socket ({}) is not writable by {}",
                owner_mode(&m),
                who.user()
            ),
        }))
    }
}

fn meta(m: &std::fs::Metadata) -> FileMeta {
    FileMeta {
        is_socket: m.file_type().is_socket(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    }
}

/// The owner class that applies, as the kernel picks it: owner, else group, else other.
fn allowed(m: &FileMeta, who: &Identity, bit: u32) -> bool {
    let shift = if m.uid == who.uid {
        6
    } else if m.gid == who.gid || who.groups.contains(&m.gid) {
        3
    } else {
        0
    };
    (m.mode >> shift) & bit != 0
}

fn has_acl(path: &Path) -> bool {
    let mut buf = [0u8; 0];
    rustix::fs::getxattr(path, "system.posix_acl_access", &mut buf).is_ok()
}

fn owner_mode(m: &FileMeta) -> String {
    format!(
        "mode {:04o}, owner {}:{}",
        m.mode,
        crate::users::name(m.uid),
        group_name(m.gid)
    )
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(uid: u32, gid: u32, groups: &[u32]) -> Identity {
        Identity {
            pid: 1,
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn the_class_that_applies_decides_as_in_the_kernel() {
        let m = FileMeta {
            is_socket: true,
            mode: 0o660,
            uid: 33,
            gid: 33,
        };
        assert!(allowed(&m, &who(33, 1, &[]), 0o2));
        assert!(allowed(&m, &who(65534, 33, &[]), 0o2));
        assert!(allowed(&m, &who(65534, 65534, &[33]), 0o2));
        assert!(!allowed(&m, &who(65534, 65534, &[]), 0o2));
        // The owner class applies even when it grants less than "other".
        let m = FileMeta { mode: 0o066, ..m };
        assert!(!allowed(&m, &who(33, 33, &[]), 0o2));
    }

    #[test]
    fn reads_the_filesystem_ids_and_groups_from_status() {
        let status = "Name:\tnginx\nUid:\t0\t65534\t65534\t65534\nGid:\t0\t65534\t65534\t65534\nGroups:\t33 65534 \n";
        let id = Identity::parse(7, status).unwrap();
        assert_eq!((id.uid, id.gid, id.groups), (65534, 65534, vec![33, 65534]));
        assert_eq!(Identity::parse(7, "Name:\tx\n"), None);
    }

    #[test]
    fn a_missing_socket_is_no_such_file_and_not_judged() {
        let f = SocketFile::read(Path::new("/nonexistent/fixer/php.sock"));
        assert_eq!(f.describe(), "no such file");
        assert_eq!(f.access(&who(65534, 65534, &[])), None);
    }
}
