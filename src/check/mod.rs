//! The chain's checks. A check reads the system and returns a step result; it never changes
//! anything.

pub mod backend_port;
pub mod before_listen;
pub mod dns;
pub mod error_log;
pub mod harden;
pub mod host;
pub mod nginx;
pub mod port_holder;
pub mod recurl;
pub mod unit_history;
pub mod upstream;
