//! Ctrl-C (SIGINT) and SIGTERM during `fix`. Dying in the middle of an action — after a
//! SIGTERM to the holder, before the restart — leaves the backend down and the audit log with
//! a `start` and no `end`. So the first signal only sets a flag: every wait in an action polls
//! it and stops at the next safe point, and `fix` then writes the audit entry and says what
//! it left. A second signal exits at once (130), as an operator pressing Ctrl-C twice expects.
//!
//! The handler is installed with `SA_RESTART`, so the rest of fixer (probes, pipes) never
//! sees an interrupted system call; a prompt waits with `poll`, which the signal always wakes.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// Exit status after an interruption, as a shell reports Ctrl-C.
pub const EXIT_STATUS: i32 = 130;

extern "C" fn on_signal(sig: nix::libc::c_int) {
    if CAUGHT.swap(sig, Ordering::SeqCst) != 0 {
        // SAFETY: _exit is async-signal-safe; nothing else runs in the handler.
        unsafe { nix::libc::_exit(EXIT_STATUS) };
    }
}

/// From now on SIGINT and SIGTERM are caught (see the module comment).
pub fn catch() -> anyhow::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls _exit.
        unsafe { sigaction(sig, &action) }?;
    }
    Ok(())
}

/// The signal caught so far (`SIGINT`, `SIGTERM`), or None.
pub fn caught() -> Option<&'static str> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        s if s == Signal::SIGINT as i32 => Some("SIGINT"),
        s if s == Signal::SIGTERM as i32 => Some("SIGTERM"),
        _ => Some("a signal"),
    }
}
