//! Name resolution through the system resolver (getaddrinfo, so /etc/hosts counts),
//! bounded by a hard timeout because getaddrinfo itself has none.

use std::net::IpAddr;
use std::time::Duration;

pub fn resolve(_host: &str, _timeout: Duration) -> Result<Vec<IpAddr>, String> {
    todo!()
}
