//! Every bound on what fixer reads from the wild, named once. A file, pattern or list larger
//! than its bound is refused with a message naming the bound, never read until memory runs out.

use std::time::Duration;

/// Blocks nested deeper than this in an nginx config are passed over unread (real configs nest
/// http → server → location → if, a handful deep); it bounds the parser's recursion.
pub const NGINX_BLOCK_DEPTH_MAX: usize = 64;
/// What fixer keeps of a helper program's output (`nginx -T`, `systemctl`): a hosting-size
/// config of 3 000 server blocks prints under 1 MB. The rest is read and thrown away, so the
/// program is never blocked on a full pipe.
pub const COMMAND_OUTPUT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A playbook is a page of TOML; anything larger is a mistake or an attack.
pub const PLAYBOOK_MAX_BYTES: u64 = 256 * 1024;
/// /etc/fixer/config.toml holds a handful of settings.
pub const CONFIG_MAX_BYTES: u64 = 64 * 1024;
/// A basic-auth password file holds one line.
pub const PASSWORD_FILE_MAX_BYTES: u64 = 4 * 1024;
/// The lock file holds a PID.
pub const LOCK_FILE_MAX_BYTES: u64 = 64;
/// `fixer log` reads the audit log backwards in chunks of this size.
pub const AUDIT_CHUNK_BYTES: u64 = 64 * 1024;
/// One audit entry longer than this is skipped as unreadable.
pub const AUDIT_LINE_MAX_BYTES: usize = 1024 * 1024;

/// `[[verify]]` URLs per playbook: each costs a connection per check.
pub const VERIFY_URLS_MAX: usize = 64;
/// Probes in flight at once; more URLs wait for a free slot.
pub const PROBE_THREADS: usize = 16;

/// A `match` regex longer than this is refused (matching cost grows with its size).
pub const MATCH_PATTERN_MAX_BYTES: usize = 1024;
/// The compiled `match` regex may use this much memory.
pub const MATCH_COMPILED_MAX_BYTES: usize = 1024 * 1024;

/// Probe timeouts, in playbooks and on the command line.
pub const TIMEOUT_MIN: Duration = Duration::from_millis(10);
pub const TIMEOUT_MAX: Duration = Duration::from_secs(300);

/// `fix --wait` / `--grace` and `verify --wait`: zero is allowed (no waiting), an hour is plenty.
pub const WAIT_MAX: Duration = Duration::from_secs(3600);

/// Untrusted text (a command line, a log line, a header) shown on a terminal or in the
/// Markdown report is cut after this many characters; JSON keeps it whole.
pub const SHOWN_TEXT_MAX_CHARS: usize = 2000;
/// Playbook error messages quote at most this much of the offending text.
pub const QUOTED_INPUT_MAX_CHARS: usize = 80;

/// nginx's error log is read back from its end until the window's start, at most this much: a
/// busy log's 15 minutes fit, a flood is counted as far as this goes and said to be cut.
pub const ERROR_LOG_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// The error log is read backwards in chunks of this size.
pub const ERROR_LOG_CHUNK_BYTES: u64 = 256 * 1024;
/// nginx cuts its lines at 2048 bytes; a longer line was written by something else and is
/// skipped, so one huge line cannot hide the lines before it.
pub const ERROR_LOG_LINE_MAX_BYTES: usize = 64 * 1024;
