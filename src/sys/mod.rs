//! The thin layer over the operating system: `/proc` parsing, sockets, HTTP probes, signals.
//! Checks and actions speak in domain terms (a listening socket, a process) and never touch
//! file paths under /proc themselves.

pub mod accept;
pub mod bound;
pub mod command;
pub mod dns_query;
pub mod holders;
pub mod host;
pub mod http;
pub mod ifaddr;
pub mod interrupt;
pub mod net;
pub mod probe;
pub mod process;
pub mod regular_file;
pub mod resolve;
pub mod signal;
pub mod spawn;
pub mod systemd;
pub mod v6only;
