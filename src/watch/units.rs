//! The text of what `fixer watch --install` writes: the service and timer templates, an
//! instance's interval drop-in, and the crontab line for hosts without systemd.

use std::path::Path;
use std::time::Duration;

use crate::playbook::watch::show_duration;

pub fn service_text(exe: &Path) -> String {
    format!(
        "# Written by `fixer watch --install`; removed by `fixer watch --uninstall` with the last timer.\n\
         [Unit]\n\
         Description=fixer watch round for playbook %i\n\
         After=network-online.target nginx.service\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         EnvironmentFile=/etc/fixer/watch/%i.env\n\
         ExecStart={} watch --once $FIXER_WATCH_ARGS\n\
         # 1: the site is unhealthy (already notified); the round itself worked.\n\
         SuccessExitStatus=1\n\
         TimeoutStartSec=5min\n",
        exe.display()
    )
}

pub const TIMER_TEXT: &str = "# Written by `fixer watch --install`; removed by `fixer watch --uninstall` with the last timer.\n\
[Unit]\n\
Description=fixer watch of playbook %i, on a timer\n\
\n\
[Timer]\n\
# The first round a second after the timer starts (enable --now, or boot), the next ones\n\
# an interval after the previous round ended, so two rounds never overlap.\n\
OnActiveSec=1s\n\
OnUnitInactiveSec=1min\n\
AccuracySec=1s\n\
\n\
[Install]\n\
WantedBy=timers.target\n";

pub fn interval_text(interval: Duration) -> String {
    let secs = interval.as_secs().max(1);
    // An empty value clears every timer of the template, not just its own kind: both are set
    // again.
    format!(
        "# Written by `fixer watch --install --interval {}`.\n[Timer]\nOnActiveSec=\nOnActiveSec=1s\nOnUnitInactiveSec={secs}s\n",
        show_duration(interval)
    )
}

/// A line for `/etc/cron.d/fixer-watch`: cron counts in whole minutes, at least one.
pub fn crontab_line(exe: &Path, watch_args: &[String], interval: Duration) -> String {
    let minutes = interval.as_secs().div_ceil(60).clamp(1, 59);
    let every = if minutes == 1 {
        "*".to_string()
    } else {
        format!("*/{minutes}")
    };
    format!(
        "{every} * * * * root {} watch --once {} >>/var/log/fixer/watch.log 2>&1",
        exe.display(),
        watch_args.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_counts_whole_minutes() {
        let exe = Path::new("/usr/local/bin/fixer");
        let args = vec!["app".to_string(), "--fix".to_string()];
        assert_eq!(
            crontab_line(exe, &args, Duration::from_secs(60)),
            "* * * * * root /usr/local/bin/fixer watch --once app --fix >>/var/log/fixer/watch.log 2>&1"
        );
        assert!(crontab_line(exe, &args, Duration::from_secs(300)).starts_with("*/5 * * * * "));
        assert!(crontab_line(exe, &args, Duration::from_secs(10)).starts_with("* * * * * "));
    }

    #[test]
    fn the_interval_drop_in_resets_the_template_value() {
        let t = interval_text(Duration::from_secs(90));
        assert!(
            t.contains("OnActiveSec=\nOnActiveSec=1s\nOnUnitInactiveSec=90s\n"),
            "{t}"
        );
    }
}
