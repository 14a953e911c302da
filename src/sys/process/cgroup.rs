//! Where /proc/PID/cgroup places a process: its systemd unit and, if any, its container.
//!
//! Rules, chosen so that the unit is something an operator would act on:
//! - the path comes from the unified (`0::`) line, or the v1 `name=systemd` line when the
//!   unified one is just `/` (hybrid hierarchies);
//! - the unit is the first `.service` or `.scope` component: systemd never nests units inside
//!   a service or scope, anything deeper is a delegated sub-tree of that unit;
//! - nothing under `user.slice` is reported (login sessions `session-N.scope`, user managers
//!   `user@N.service` and the user's own units are not restarted by a system `systemctl`);
//! - `init.scope` (PID 1 itself) and container scopes are not units; a container is reported
//!   separately, by its id shortened to 12 hex digits like `docker ps` shows it.
//!
//! Transient scopes such as `run-r….scope` are reported: they are evidence of how the process
//! was started, but a scope cannot be restarted, only stopped.

/// A process's place in the cgroup tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupPlace {
    pub unit: Option<String>,
    pub container: Option<String>,
}

const CONTAINER_WORDS: &[&str] = &["docker", "containerd", "kubepods", "libpod", "crio"];

pub fn parse_cgroup(text: &str) -> CgroupPlace {
    CgroupPlace {
        unit: systemd_path(text).and_then(unit_of_path),
        container: text.lines().find_map(|l| container_id(path_of(l)?)),
    }
}

/// The path part of `hierarchy-id:controllers:path` (the path itself may contain ':').
fn path_of(line: &str) -> Option<&str> {
    let mut parts = line.splitn(3, ':');
    parts.next()?;
    parts.next()?;
    parts.next()
}

fn systemd_path(text: &str) -> Option<&str> {
    let named = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(path_of)
    };
    let unified = named("0::").filter(|p| *p != "/");
    unified.or_else(|| {
        text.lines()
            .find(|l| l.contains(":name=systemd:"))
            .and_then(path_of)
    })
}

fn unit_of_path(path: &str) -> Option<String> {
    let mut components = path.split('/').filter(|c| !c.is_empty());
    let unit = components
        .find(|c| c.ends_with(".service") || c.ends_with(".scope") || *c == "user.slice")?;
    let ignored = unit == "user.slice" || unit == "init.scope" || container_id(unit).is_some();
    (!ignored).then(|| unit.to_string())
}

/// A 64-hex-digit id in a path that names a container runtime.
fn container_id(path: &str) -> Option<String> {
    if !CONTAINER_WORDS.iter().any(|w| path.contains(w)) {
        return None;
    }
    path.rsplit(|c: char| !c.is_ascii_hexdigit())
        .find(|run| run.len() == 64)
        .map(|id| id[..12].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            parse_cgroup(include_str!(concat!(
                "../../../tests/fixtures/proc/",
                $name
            )))
        };
    }

    fn place(unit: Option<&str>, container: Option<&str>) -> CgroupPlace {
        CgroupPlace {
            unit: unit.map(str::to_string),
            container: container.map(str::to_string),
        }
    }

    #[test]
    fn this_box_has_no_unit_nor_container() {
        assert_eq!(fixture!("cgroup_this_box.txt"), place(None, None));
    }

    #[test]
    fn systemd_service() {
        let p = fixture!("cgroup_synthetic_systemd_service.txt");
        assert_eq!(p, place(Some("flask-app.service"), None));
        let p = fixture!("cgroup_synthetic_hybrid_v1.txt");
        assert_eq!(p, place(Some("nginx.service"), None));
        let p = fixture!("cgroup_synthetic_dockerd.txt");
        assert_eq!(p, place(Some("docker.service"), None));
    }

    #[test]
    fn user_sessions_are_not_units() {
        assert_eq!(
            fixture!("cgroup_synthetic_user_session.txt"),
            place(None, None)
        );
        assert_eq!(
            fixture!("cgroup_synthetic_user_manager.txt"),
            place(None, None)
        );
    }

    #[test]
    fn transient_scope_is_reported() {
        let p = fixture!("cgroup_synthetic_transient_scope.txt");
        assert_eq!(p, place(Some("run-r0b1c2d3e.scope"), None));
    }

    #[test]
    fn containers() {
        let p = fixture!("cgroup_synthetic_docker_systemd_driver.txt");
        assert_eq!(p, place(None, Some("3f2a9c1e5b7d")));
        let p = fixture!("cgroup_synthetic_docker_cgroupfs_v1.txt");
        assert_eq!(p, place(None, Some("9b1c2d3e4f5a")));
        let p = fixture!("cgroup_synthetic_kubepods.txt");
        assert_eq!(p, place(None, Some("aa11bb22cc33")));
        let p = fixture!("cgroup_synthetic_podman.txt");
        assert_eq!(p, place(None, Some("0123456789ab")));
    }

    #[test]
    fn init_scope_and_garbage() {
        assert_eq!(parse_cgroup("0::/init.scope\n"), place(None, None));
        assert_eq!(parse_cgroup(""), place(None, None));
        assert_eq!(parse_cgroup("nonsense"), place(None, None));
    }
}
