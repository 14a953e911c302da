//! The error log in the root cause: when the only failure is what the probes through nginx got
//! (a 502, a reset), the log's explaining cause becomes the root cause; when another step
//! failed, its sentence quotes the log ("nothing listens on 127.0.0.1:8080 (37 'connection
//! refused' in nginx's error log since 03:12)").

use crate::finding::{Finding, FindingCode};
use crate::nginx::errlog::Cause;
use crate::step::details::{ErrorGroup, StepDetails};
use crate::step::{StepName, StepResult, Verdict};

/// Symptoms through nginx that the error log explains better: what the verify URLs got, and a
/// TLS handshake nginx dropped (a saturated nginx drops it before any certificate is sent).
const SYMPTOMS: &[(StepName, FindingCode)] = &[
    (StepName::Recurl, FindingCode::HttpGatewayError),
    (StepName::Recurl, FindingCode::HttpConnectFailed),
    (StepName::Recurl, FindingCode::HttpTimeout),
    (StepName::Tls, FindingCode::TlsHandshakeFailed),
];

/// Steps whose root cause the log's count backs up.
const BACKEND_STEPS: &[StepName] = &[StepName::BackendPort, StepName::PortHolder];

/// Called once the chain has run every step.
pub fn explain_root(steps: &mut [StepResult]) {
    let Some(log) = steps.iter().position(|s| s.name == StepName::ErrorLog) else {
        return;
    };
    let Some((cause, group)) = explaining(&steps[log]) else {
        return;
    };
    let quoted = quoted(cause, &group);
    let Some(root) = steps
        .iter()
        .position(|s| s.verdict == Verdict::Fail && s.finding.is_some())
    else {
        return;
    };
    let root_step = &mut steps[root];
    let symptom = root_step
        .finding
        .as_ref()
        .is_some_and(|f| SYMPTOMS.contains(&(root_step.name, f.code)));
    if root_step.name == StepName::ErrorLog {
        return;
    }
    if !symptom {
        // The log speaks about the backend: it backs a backend finding, not a DNS or nginx one.
        if !BACKEND_STEPS.contains(&root_step.name) {
            return;
        }
        if let Some(f) = root_step.finding.as_mut() {
            let same = root_step.summary == f.cause;
            f.cause = format!("{} ({quoted})", f.cause);
            if same {
                root_step.summary = f.cause.clone();
            }
        }
        return;
    }
    let seen = root_step
        .finding
        .as_ref()
        .map(|f| format!("{} [{}]", f.cause, f.code))
        .unwrap_or_default();
    let step = &mut steps[log];
    let limits = match &step.details {
        StepDetails::ErrorLog(d) if cause.nginx_wide() => d.nginx_limits.as_ref(),
        _ => None,
    };
    let limits = limits.map_or(String::new(), |l| {
        format!("; {}", super::limits::sentence(l))
    });
    let finding = Finding::new(
        cause.code(),
        format!("{} ({quoted}){limits}", cause.sentence()),
    )
    .with_action(action(cause));
    step.evidence.push(format!(
        "the probes through nginx fail and nothing else explains it; the error log does: {seen}"
    ));
    step.verdict = Verdict::Fail;
    step.summary = finding.cause.clone();
    step.finding = Some(finding);
}

/// The error log step's explaining group, when it warned with a cause of its own.
fn explaining(step: &StepResult) -> Option<(Cause, ErrorGroup)> {
    let code = step.finding.as_ref()?.code;
    let cause = Cause::from_code(code)?;
    let group = step
        .details
        .error_groups()
        .iter()
        .find(|g| g.code == code)?;
    Some((cause, group.clone()))
}

/// `37 'connection refused' in nginx's error log since 03:12`.
fn quoted(cause: Cause, g: &ErrorGroup) -> String {
    let since = g.oldest.get(11..16).unwrap_or(&g.oldest);
    format!(
        "{} '{}' in nginx's error log since {since}",
        g.count,
        cause.words()
    )
}

/// What the operator does about each cause; never a kill or restart of a backend that answers.
pub(super) fn action(cause: Cause) -> &'static str {
    match cause {
        Cause::Refused => "start the backend (the backend_port step shows what listens)",
        Cause::TimedOut => "find out why the backend is slow (its own log, load), or raise proxy_read_timeout; a backend that accepts is not restarted for being slow",
        Cause::Reset | Cause::ClosedEarly => "read the backend's own log for the crash behind the dropped requests",
        Cause::PermissionDenied => "give nginx's worker user access to the socket (owner, group, mode), or check SELinux (setsebool httpd_can_network_connect)",
        Cause::SocketMissing => "start the backend so it creates its socket, or point nginx at the path it uses",
        Cause::NoLiveUpstreams => "make the upstream's servers answer; nginx tries them again after fail_timeout",
        Cause::TooBigHeader => "raise proxy_buffer_size (and proxy_buffers), or make the backend send smaller headers (cookies)",
        Cause::InvalidHeader => "match the scheme to the backend: proxy_pass https:// for a TLS port, uwsgi_pass or fastcgi_pass for those protocols",
        Cause::SslHandshake => "check the backend's certificate and proxy_ssl_* settings (proxy_ssl_server_name, proxy_ssl_verify)",
        Cause::ResolveFailed => "fix the upstream's name in DNS or nginx's resolver directive",
        Cause::WorkerConnections => "raise worker_connections (and the open-files limit with it) or find what holds nginx's connections; do not restart the backend, it is not at fault",
        Cause::QueueFull => "give the backend more workers (pm.max_children) or a longer listen backlog",
        Cause::AddressFamily => "point nginx at an address family this host has (127.0.0.1 instead of ::1)",
        Cause::TooManyOpenFiles => "raise nginx's open-files limit (worker_rlimit_nofile, LimitNOFILE=) above twice worker_connections",
        Cause::NoLocalPorts => "use upstream keepalive, widen net.ipv4.ip_local_port_range, or spread over more upstream addresses",
        Cause::NoRoute => "reload nginx so it resolves the upstream again, or fix the address in its config",
        Cause::InvalidChunked => "read the backend's own log; its responses are malformed",
        Cause::Other => "read the quoted line in nginx's error log",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::details::{BackendPortDetails, ErrorLogDetails, RecurlDetails};
    use crate::step::Recorder;

    fn log_step(code: FindingCode, count: usize) -> StepResult {
        let mut rec = Recorder::<ErrorLogDetails>::start(StepName::ErrorLog);
        rec.details.groups = Some(vec![ErrorGroup {
            code,
            cause: String::new(),
            count,
            oldest: "2026-11-26 03:12:04".into(),
            newest: "2026-11-26 03:20:00".into(),
            upstreams: Vec::new(),
            example: String::new(),
        }]);
        rec.warn("logged", Some(Finding::new(code, "logged")))
    }

    fn failing<D: Default + Into<StepDetails>>(name: StepName, code: FindingCode) -> StepResult {
        Recorder::<D>::start(name).fail(Finding::new(code, "it broke"))
    }

    #[test]
    fn a_backend_root_cause_quotes_the_log() {
        let mut steps = vec![
            log_step(FindingCode::LogConnectionRefused, 37),
            failing::<BackendPortDetails>(StepName::BackendPort, FindingCode::BackendNotListening),
        ];
        explain_root(&mut steps);
        let f = steps[1].finding.as_ref().unwrap();
        assert_eq!(
            f.cause,
            "it broke (37 'connection refused' in nginx's error log since 03:12)"
        );
        assert_eq!(steps[1].summary, f.cause);
        assert_eq!(steps[0].verdict, Verdict::Warn);
    }

    #[test]
    fn when_only_the_probes_through_nginx_fail_the_log_is_the_root_cause() {
        let mut steps = vec![
            log_step(FindingCode::LogWorkerConnections, 12),
            failing::<RecurlDetails>(StepName::Recurl, FindingCode::HttpConnectFailed),
        ];
        explain_root(&mut steps);
        assert_eq!(steps[0].verdict, Verdict::Fail);
        let f = steps[0].finding.as_ref().unwrap();
        assert_eq!(f.code, FindingCode::LogWorkerConnections);
        assert!(
            f.cause.starts_with("nginx itself is saturated"),
            "{}",
            f.cause
        );
        assert!(f
            .action
            .as_deref()
            .unwrap()
            .contains("do not restart the backend"));
    }

    #[test]
    fn a_backend_error_status_is_left_to_the_backend() {
        let mut steps = vec![
            log_step(FindingCode::LogPrematureClose, 2),
            failing::<RecurlDetails>(StepName::Recurl, FindingCode::HttpBackendError),
        ];
        explain_root(&mut steps);
        assert_eq!(steps[0].verdict, Verdict::Warn);
        assert_eq!(steps[1].finding.as_ref().unwrap().cause, "it broke");
    }
}
