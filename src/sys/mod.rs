//! The thin layer over the operating system: `/proc` parsing, sockets, HTTP probes, signals.
//! Checks and actions speak in domain terms (a listening socket, a process) and never touch
//! file paths under /proc themselves.

pub(crate) mod accept;
pub mod addr;
pub(crate) mod bound;
pub(crate) mod command;
pub mod dns_query;
pub mod holders;
pub mod host;
pub mod http;
pub(crate) mod ifaddr;
pub(crate) mod interrupt;
pub mod net;
pub(crate) mod probe;
pub(crate) mod proc_limits;
pub mod process;
pub(crate) mod regular_file;
pub(crate) mod resolve;
pub(crate) mod run_slot;
pub(crate) mod signal;
pub(crate) mod socket_file;
pub(crate) mod spawn;
pub(crate) mod systemd;
pub(crate) mod tail;
pub(crate) mod tls;
pub(crate) mod v6only;
