//! One view of the process table for a whole diagnosis, shared by every step that walks it:
//! nginx master discovery, the backend's likely pids, the families of holders, the search for
//! a backend blocked before it listens.
//!
//! Each of those used to walk /proc on its own; with 4 000 processes a walk costs ~60 ms of
//! kernel time. The snapshot reads every `stat` once (pid, parent, state, flags, comm), and
//! the command lines only when a question first needs them, once, for user processes only.
//! It is a read-only view: installed for a diagnosis, dropped before anything is changed, and
//! every pid it names is still re-read before fixer acts on it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use super::scan::{par_map, read_into, ProcRoot};
use super::split_cmdline;
use super::stat::{parse_stat, PF_KTHREAD};
use crate::sys::run_slot::{Installed, RunSlot};

/// What the snapshot keeps of one `stat` line.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub ppid: i32,
    pub state: super::ProcState,
    pub kernel_thread: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    entries: BTreeMap<i32, Entry>,
    children: OnceLock<HashMap<i32, Vec<i32>>>,
    cmdlines: OnceLock<HashMap<i32, Vec<String>>>,
}

impl Table {
    /// Reads `stat` of every process, on every core. Processes that exit meanwhile are left out.
    pub fn read() -> Table {
        let Ok(root) = ProcRoot::open() else {
            return Table::default();
        };
        let pids = super::read_all_pids();
        let entries = par_map(&pids, |pid, buf| {
            read_into(root.fd(), pid, "stat", buf).ok()?;
            let stat = parse_stat(&String::from_utf8_lossy(buf))?;
            Some(Entry {
                ppid: stat.ppid,
                state: stat.state,
                kernel_thread: stat.flags & PF_KTHREAD != 0,
            })
        });
        Table {
            entries: entries
                .into_iter()
                .filter_map(|(p, e)| Some((p, e?)))
                .collect(),
            ..Table::default()
        }
    }

    pub fn pids(&self) -> Vec<i32> {
        self.entries.keys().copied().collect()
    }

    pub fn entry(&self, pid: i32) -> Option<&Entry> {
        self.entries.get(&pid)
    }

    /// Parent pid → child pids, derived once from the stat lines.
    pub fn children(&self) -> &HashMap<i32, Vec<i32>> {
        self.children.get_or_init(|| {
            let mut map: HashMap<i32, Vec<i32>> = HashMap::new();
            for (pid, e) in &self.entries {
                map.entry(e.ppid).or_default().push(*pid);
            }
            map
        })
    }

    /// The argv of every user process (kernel threads and zombies have none), read on first
    /// use, on every core.
    pub fn cmdlines(&self) -> &HashMap<i32, Vec<String>> {
        self.cmdlines.get_or_init(|| {
            let Ok(root) = ProcRoot::open() else {
                return HashMap::new();
            };
            let users: Vec<i32> = self
                .entries
                .iter()
                .filter(|(_, e)| !e.kernel_thread && !e.state.is_gone())
                .map(|(p, _)| *p)
                .collect();
            par_map(&users, |pid, buf| {
                read_into(root.fd(), pid, "cmdline", buf).ok()?;
                Some(split_cmdline(buf)).filter(|argv| !argv.is_empty())
            })
            .into_iter()
            .filter_map(|(p, argv)| Some((p, argv?)))
            .collect()
        })
    }
}

static CURRENT: RunSlot<Table> = RunSlot::new();

/// Takes the snapshot and answers process-table questions from it until the guard is dropped.
/// Nested installs share the outer snapshot.
pub(crate) fn install() -> Installed<Table> {
    CURRENT.install(Table::read)
}

/// The installed snapshot, if a diagnosis is running.
pub(crate) fn current() -> Option<Arc<Table>> {
    CURRENT.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_this_process_its_parent_and_its_command_line() {
        let table = Table::read();
        let me = std::process::id() as i32;
        let parent = std::os::unix::process::parent_id() as i32;
        assert_eq!(table.entry(me).map(|e| e.ppid), Some(parent));
        assert!(table.children()[&parent].contains(&me));
        let argv = &table.cmdlines()[&me];
        assert!(std::env::args().eq(argv.iter().cloned()), "{argv:?}");
    }

    #[test]
    fn answers_while_installed_and_nested_installs_share_it() {
        {
            let _outer = install();
            let first = current().expect("installed");
            {
                let _inner = install();
                assert!(Arc::ptr_eq(&first, &current().unwrap()));
            }
            assert!(
                current().is_some(),
                "the inner guard leaves the outer snapshot"
            );
        }
        assert!(current().is_none());
    }
}
