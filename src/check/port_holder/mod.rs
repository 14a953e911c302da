//! `port_holder`: which process owns the backend's listening socket, what state it is in, and
//! whether it serves. Found by socket inode, never by process name: the Streamlit incident's
//! `pgrep streamlit` missed a `python3 -m streamlit` holder.
//!
//! A holder is called stuck only on evidence that it is not serving: it is stopped, it is
//! blocked reading its stdin or terminal, connections wait in its accept queue while it has
//! nothing accepted to work on, or nginx itself gives up on it. A direct probe that got no
//! answer in time shows only that the holder is slower than fixer's timeout; a probe fixer
//! could not send, or in a protocol the holder does not speak, shows nothing at all.

mod describe;
mod judge;
mod nginx_wait;
mod unproven;
pub(crate) mod view;

pub use view::{Condition, HolderView};

use crate::check::backend_port::Listening;
use crate::check::nginx::NginxView;
use crate::finding::{Finding, FindingCode};
use crate::step::{StepName, StepResult};

use crate::step::details::{HolderDetails, HolderProcess};
type Rec = crate::step::Recorder<crate::step::details::PortHolderDetails>;
use crate::sys::accept::{self, AcceptReport};
use crate::sys::holders;
use crate::sys::http::{Answers, Failure, Response};
use crate::sys::probe;
use crate::sys::process::ProcessInfo;
use crate::target::{BackendAddr, BackendSpec, Target};

/// One listening socket on the backend's address and the processes holding it. Several exist
/// with SO_REUSEPORT (and for a `[::]` plus a `0.0.0.0` socket); each is judged on its own.
#[derive(Debug, Clone)]
pub(crate) struct Listener {
    pub local: String,
    pub inode: u64,
    /// Its accept queue when the chain read /proc/net/tcp (None for a unix socket).
    pub queue_before: Option<u32>,
    /// Living holders, main first.
    pub holders: Vec<ProcessInfo>,
}

/// What the other steps saw, which the holder is judged against.
#[derive(Default)]
pub struct Context<'a> {
    pub nginx: Option<&'a NginxView>,
    pub error_log: Option<&'a StepResult>,
    pub recurl: Option<&'a StepResult>,
}

/// The step's readings, taken while the network probes of other steps run.
pub struct Gathered(Gathering);

enum Gathering {
    Done(StepResult),
    Read(Rec, Readings),
}

pub(crate) struct Readings {
    pub listeners: Vec<Listener>,
    pub probe: Result<Response, Failure>,
    /// The direct probe as an evidence line: what was sent, in which protocol, and what came back.
    pub probe_evidence: String,
    /// `None` for a unix socket; `Err` when fixer could not look (its own failure).
    pub accept: Option<Result<AcceptReport, String>>,
}

/// The holders read and the accept probe under way, before nginx's config is read: neither
/// needs the config, and the probe's wait for an accept then overlaps `nginx -T`.
pub struct Begun(Beginning);

enum Beginning {
    Done(StepResult),
    Found {
        rec: Rec,
        living: Vec<ProcessInfo>,
        listeners: Vec<Listener>,
        accept: Option<Accepting>,
    },
}

/// The accept probe on its own thread, or why it could not start (fixer's own failure).
enum Accepting {
    Running(std::thread::JoinHandle<Result<AcceptReport, String>>),
    NotStarted(String),
}

impl Accepting {
    fn start(addr: std::net::SocketAddr, count: usize, target: &Target, holders: Vec<i32>) -> Self {
        let window = target.timeout;
        match std::thread::Builder::new()
            .name("accept-probe".into())
            .spawn(move || accept::probe(addr, count, window, &holders))
        {
            Ok(h) => Accepting::Running(h),
            Err(e) => Accepting::NotStarted(format!("could not start the accept probe: {e}")),
        }
    }

    fn join(self) -> Result<AcceptReport, String> {
        match self {
            Accepting::Running(h) => h
                .join()
                .unwrap_or_else(|_| Err("the accept probe crashed".into())),
            Accepting::NotStarted(why) => Err(why),
        }
    }
}

/// Reads the holders and probes them; [`judge`] then decides.
pub fn gather(target: &Target, listening: &Listening) -> Gathered {
    finish(target, begin(target, listening), &Answers::new())
}

/// Reads the holders of the backend's sockets and starts the accept probe.
pub fn begin(target: &Target, listening: &Listening) -> Begun {
    let mut rec = Rec::start(StepName::PortHolder);
    let done = |r: StepResult| Begun(Beginning::Done(r));
    let Some(backend) = &target.backend else {
        return done(rec.skip("no backend configured"));
    };
    if listening.is_empty() {
        return done(rec.skip(format!(
            "nothing listens on {}, so there is no holder",
            backend.address
        )));
    }
    let inodes = listening.inodes();
    let scan = holders::find_holders_remembered(
        &format!("backend {}", backend.address),
        &inodes,
        &holders::likely_pids(backend.matcher.as_ref()),
    );
    let mut pids: Vec<i32> = scan.holders.values().flatten().copied().collect();
    pids.sort_unstable();
    pids.dedup();
    rec.see(format!(
        "/proc/*/fd: socket inode {} held by {} ({} processes read{})",
        inodes
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        if pids.is_empty() {
            "no visible process".to_string()
        } else {
            format!(
                "PID {}",
                pids.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        scan.scanned,
        if scan.full_scan { ", full scan" } else { "" }
    ));
    let procs: Vec<ProcessInfo> = pids
        .iter()
        .filter_map(|&p| ProcessInfo::read(p).ok())
        .collect();
    let (zombies, living): (Vec<_>, Vec<_>) = procs.into_iter().partition(|p| p.state.is_gone());
    for z in &zombies {
        rec.see(format!(
            "PID {} is a zombie (state Z) and cannot serve the socket",
            z.pid
        ));
    }
    if living.is_empty() {
        return done(uninspectable(rec, backend, &scan, !zombies.is_empty()));
    }
    let listeners = listeners(listening, &scan, &living);
    for l in &listeners {
        if listeners.len() > 1 {
            rec.see(format!(
                "listening socket {} (inode {}), one of {} on this address:",
                l.local,
                l.inode,
                listeners.len()
            ));
        }
        if let Some(main) = l.holders.first() {
            for p in &l.holders {
                describe::process(&mut rec, p, main, backend);
            }
        }
    }
    // With several listeners the kernel spreads connections by a hash of the address pair;
    // a few per listener reach each of them with high probability.
    let accept = match backend.address {
        BackendAddr::Tcp(addr) => {
            let count = if listeners.len() > 1 {
                (8 * listeners.len()).min(32)
            } else {
                1
            };
            let all: Vec<i32> = living.iter().map(|p| p.pid).collect();
            Some(Accepting::start(addr, count, target, all))
        }
        _ => None,
    };
    Begun(Beginning::Found {
        rec,
        living,
        listeners,
        accept,
    })
}

/// The direct request to the backend, in the protocol nginx speaks to it (`target` carries the
/// protocol read from the config), while the accept probe runs: a stuck holder costs one timeout.
/// Sent once per walk (`answers`): a verify URL naming the backend's address asks the same.
pub fn finish(target: &Target, begun: Begun, answers: &Answers) -> Gathered {
    let (mut rec, living, listeners, accept) = match begun.0 {
        Beginning::Done(r) => return Gathered(Gathering::Done(r)),
        Beginning::Found {
            rec,
            living,
            listeners,
            accept,
        } => (rec, living, listeners, accept),
    };
    let Some(backend) = &target.backend else {
        return Gathered(Gathering::Done(rec.skip("no backend configured")));
    };
    let request = direct_request(target, backend, &living);
    let probe = answers.once(request.key(), || probe::probe(&request));
    let accept = accept.map(Accepting::join);
    rec.details.protocol = Some(backend.protocol().as_str());
    Gathered(Gathering::Read(
        rec,
        Readings {
            listeners,
            probe_evidence: request.evidence(&probe),
            probe,
            accept,
        },
    ))
}

/// Judges the readings against what nginx saw; see the module doc for the rules.
pub fn judge(target: &Target, g: Gathered, ctx: &Context<'_>) -> (StepResult, Option<HolderView>) {
    match (g.0, &target.backend) {
        (Gathering::Done(r), _) => (r, None),
        (Gathering::Read(rec, readings), Some(backend)) => {
            let (mut step, view) = judge::judge(rec, target, backend, &readings, ctx);
            // A php-fpm pool with every worker busy is full, not stuck: never a kill.
            crate::check::fpm_pool::explain(&mut step, view.as_ref(), backend);
            (step, view)
        }
        (Gathering::Read(rec, _), None) => (rec.skip("no backend configured"), None),
    }
}

/// [`gather`] and [`judge`] without the other steps' readings.
pub fn run(target: &Target, listening: &Listening) -> (StepResult, Option<HolderView>) {
    judge(target, gather(target, listening), &Context::default())
}

/// Groups the living holders by the listening socket they hold.
fn listeners(
    listening: &Listening,
    scan: &holders::HolderScan,
    living: &[ProcessInfo],
) -> Vec<Listener> {
    let tcp = listening
        .tcp
        .iter()
        .map(|s| (s.local.to_string(), s.inode, Some(s.rx_queue)));
    let unix = listening.unix.iter().map(|s| {
        let path = s.path.clone().unwrap_or_else(|| "(unnamed)".into());
        (path, s.inode, None)
    });
    tcp.chain(unix)
        .map(|(local, inode, queue_before)| {
            let pids = scan.holders.get(&inode).cloned().unwrap_or_default();
            let held: Vec<ProcessInfo> = living
                .iter()
                .filter(|p| pids.contains(&p.pid))
                .cloned()
                .collect();
            Listener {
                local,
                inode,
                queue_before,
                holders: order_family(held),
            }
        })
        .filter(|l| !l.holders.is_empty())
        .collect()
}

/// The one request straight to the backend, in the protocol nginx speaks to it; the main
/// holder's command line names php-fpm's config, where its ping path is.
fn direct_request(
    target: &Target,
    backend: &BackendSpec,
    living: &[ProcessInfo],
) -> probe::Request {
    let main = living.first().map(|p| p.cmdline.join(" "));
    probe::Request::new(
        &backend.address,
        backend.protocol(),
        &backend.health_path,
        main.as_deref(),
        target.timeout,
    )
}

/// Main holder first (the process whose parent does not hold the socket), then its family.
fn order_family(mut procs: Vec<ProcessInfo>) -> Vec<ProcessInfo> {
    let pids: Vec<i32> = procs.iter().map(|p| p.pid).collect();
    procs.sort_by_key(|p| (pids.contains(&p.ppid), p.pid));
    procs
}

/// The JSON details every judged holder carries.
fn details(rec: &mut Rec, v: &HolderView, answering: bool, queue: Option<u32>) {
    let main = &v.main;
    rec.details.holder = Some(HolderDetails {
        pid: main.pid,
        pids: v.all.iter().map(|p| p.pid).collect(),
        cmdline: main.cmdline_str(),
        state: main.state.to_string(),
        user: main.user.clone(),
        unit: main.unit.clone(),
        container: main.container.clone(),
        answering,
        matches: v.matches,
        wchan: main.wchan.clone(),
        stdin: main.stdin.clone(),
        started_unix: main.started_unix,
        age_secs: main.age_secs().round(),
        accept_queue: queue,
        processes: v
            .all
            .iter()
            .map(|p| HolderProcess {
                pid: p.pid,
                ppid: p.ppid,
                cmdline: p.cmdline_str(),
                state: p.state.to_string(),
            })
            .collect(),
    });
}

fn uninspectable(
    rec: Rec,
    backend: &BackendSpec,
    scan: &holders::HolderScan,
    zombie: bool,
) -> StepResult {
    if zombie {
        return rec.fail(
            Finding::new(
                FindingCode::HolderZombie,
                format!(
                    "{} is held only by a zombie process; no living process serves it",
                    backend.address
                ),
            )
            .with_action("restart the backend"),
        );
    }
    let root = rustix::process::geteuid().is_root();
    let cause = if root {
        format!("{} is held by a process fixer cannot see (another PID namespace, or a process whose fds are unreadable)", backend.address)
    } else {
        format!(
            "{} is held by a process fixer cannot inspect ({} processes unreadable); run as root",
            backend.address,
            scan.denied.len()
        )
    };
    rec.fail(
        Finding::new(FindingCode::HolderUninspectable, cause)
            .with_action("run fixer as root (sudo fixer diagnose)"),
    )
}
