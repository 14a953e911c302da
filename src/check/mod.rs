//! The chain's checks. A check reads the system and returns a step result; it never changes
//! anything.

pub(crate) mod auth;
pub mod backend_port;
pub(crate) mod before_listen;
pub mod dns;
pub(crate) mod error_log;
pub(crate) mod fpm_pool;
pub(crate) mod harden;
pub(crate) mod host;
pub(crate) mod nginx;
pub mod port_holder;
pub mod recurl;
pub(crate) mod server_block;
pub(crate) mod socket_access;
pub(crate) mod tls;
pub(crate) mod unit_history;
pub(crate) mod upstream;
