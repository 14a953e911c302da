//! The chain's checks. A check reads the system and returns a step result; it never changes
//! anything.

pub mod dns;
pub mod recurl;
