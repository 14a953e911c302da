use super::*;
use proptest::prelude::*;

const LAB: &str = include_str!("../../../tests/fixtures/nginx/error-lab.log");
const OTHER: &str = include_str!("../../../tests/fixtures/nginx/error-other-synthetic.log");
const ATTRIBUTION: &str = include_str!("../../../tests/fixtures/nginx/error-attribution.log");
const CAUSES: &str = include_str!("../../../tests/fixtures/nginx/error-causes-synthetic.log");
const REAL: &str = include_str!("../../../tests/fixtures/nginx/error-real-faults.log");

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S").unwrap()
}

fn causes(text: &str) -> Vec<Cause> {
    text.lines()
        .filter_map(parse_line)
        .map(|e| e.cause)
        .collect()
}

#[test]
fn groups_real_lab_lines() {
    let g = group(&parse(LAB, at("2026/11/25 00:00:00")));
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].cause, Cause::TimedOut);
    assert_eq!(g[1].cause, Cause::Refused);
    assert_eq!(g[1].count, 3);
    assert_eq!(g[1].code().as_str(), "log-connection-refused");
    assert_eq!(g[1].upstreams, vec!["http://127.0.0.1:34069/api/health"]);
    assert_eq!(g[1].oldest, at("2026/11/25 15:45:55"));
}

#[test]
fn the_window_drops_old_lines() {
    assert!(parse(LAB, at("2026/11/25 15:46:00")).is_empty());
    assert_eq!(group(&parse(LAB, at("2026/11/25 15:45:56"))).len(), 1);
}

#[test]
fn knows_every_upstream_cause_and_ignores_the_rest() {
    assert_eq!(
        causes(OTHER),
        [
            Cause::SocketMissing,
            Cause::PermissionDenied,
            Cause::TooBigHeader,
            Cause::NoLiveUpstreams,
            Cause::Reset,
            Cause::ClosedEarly
        ]
    );
}

#[test]
fn every_cause_of_the_issue_list_is_told_apart() {
    assert_eq!(
        causes(CAUSES),
        [
            Cause::WorkerConnections,
            Cause::WorkerConnections,
            Cause::TooManyOpenFiles,
            Cause::NoLocalPorts,
            Cause::NoRoute,
            Cause::AddressFamily,
            Cause::QueueFull,
            Cause::InvalidHeader,
            Cause::SslHandshake,
            Cause::SslHandshake,
            Cause::SslHandshake,
            Cause::ResolveFailed,
            Cause::ResolveFailed,
            Cause::ResolveFailed,
            Cause::InvalidChunked,
            Cause::InvalidHeader,
            // Skipped: [info] client closed, a reset reading the client's request, a broken
            // pipe to the client (not upstream failures).
            Cause::Other,
            // Skipped: [warn] buffered to a file (not a failure); then the line cut at 2048.
            Cause::TimedOut,
        ]
    );
}

#[test]
fn a_line_cut_at_2048_bytes_keeps_its_cause_and_loses_cut_fields() {
    let cut = CAUSES.lines().last().unwrap();
    assert_eq!(cut.len(), 2048);
    let e = parse_line(cut).unwrap();
    assert_eq!(e.cause, Cause::TimedOut);
    assert_eq!(
        e.upstream, None,
        "the request field was cut, upstream never written"
    );
    assert_eq!(e.server.as_deref(), Some("example.com"));
}

#[test]
fn lines_of_the_lab_faults_as_nginx_wrote_them() {
    let codes: Vec<&str> = REAL
        .lines()
        .filter_map(parse_line)
        .map(|e| e.cause.code().as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "log-upstream-timeout",
            "log-premature-close",
            "log-invalid-header",
            "log-too-big-header",
            "log-worker-connections",
        ]
    );
}

#[test]
fn the_explaining_group_is_the_newest_known_cause_then_the_most_frequent() {
    let e = |t: &str, cause| Entry {
        time: at(t),
        cause,
        upstream: None,
        server: None,
        referrer: None,
        message: String::new(),
    };
    let entries = [
        e("2026/11/26 03:00:00", Cause::Refused),
        e("2026/11/26 03:00:05", Cause::TimedOut),
        e("2026/11/26 03:00:05", Cause::Refused),
        e("2026/11/26 03:00:09", Cause::Other),
    ];
    let g = group(&entries);
    assert_eq!(g[0].cause, Cause::Other);
    assert_eq!(
        explaining(&g).unwrap().cause,
        Cause::Refused,
        "tie at 03:00:05: 2 beat 1"
    );
    assert_eq!(explaining(&g[..1]).unwrap().cause, Cause::Other);
}

#[test]
fn every_cause_has_its_own_code() {
    let mut codes: Vec<&str> = Cause::ALL.iter().map(|c| c.code().as_str()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), Cause::ALL.len());
    for c in Cause::ALL {
        assert_eq!(Cause::from_code(c.code()), Some(*c));
    }
}

#[test]
fn reads_the_context_fields_of_real_lines() {
    let e = parse(ATTRIBUTION, at("2026/11/26 00:00:00"));
    assert_eq!(e.len(), 6, "the [warn] line is no upstream error");
    assert_eq!(e[0].referrer.as_deref(), Some("fixer:probe"));
    assert_eq!(e[1].referrer, None);
    assert_eq!(e[1].server.as_deref(), Some("site.test"));
    assert_eq!(
        e[1].upstream.as_deref(),
        Some("http://127.0.0.1:53673/grp?x=1")
    );
    assert_eq!(e[5].cause, Cause::NoLiveUpstreams);
}

#[test]
fn names_the_peer_of_every_upstream_form() {
    let peers: Vec<Option<Peer>> = parse(ATTRIBUTION, at("2026/11/26 00:00:00"))
        .iter()
        .map(|e| e.upstream.as_deref().and_then(Peer::parse))
        .collect();
    let addr = |s: &str| Some(Peer::Addr(s.parse().unwrap()));
    let sock = Some(Peer::Unix("/tmp/cap/none.sock".into()));
    assert_eq!(peers[0], addr("127.0.0.1:53673"));
    assert_eq!(peers[2], addr("[::1]:53673"));
    assert_eq!(peers[3], sock, "http://unix:/path:/uri");
    assert_eq!(peers[4], sock, "fastcgi_pass unix:");
    assert_eq!(
        peers[5],
        Some(Peer::Name {
            host: "app_one".into(),
            port: None
        })
    );
    assert_eq!(
        Peer::parse("http://localhost:8080/x"),
        Some(Peer::Name {
            host: "localhost".into(),
            port: Some(8080)
        })
    );
}

/// Crashes proptest found, kept: none so far beyond these hand-made edges.
#[test]
fn hostile_lines_are_no_panic() {
    for line in [
        "",
        "2026/11/26 03:12:04",
        "2026/11/26 03:12:04 [",
        "2026/11/26 03:12:04 [error]",
        "2026/11/26 03:12:04 [error] ",
        "2026/11/26 03:12:04 [error] 1#1: *",
        "2026/11/26 03:12:04 [error] 1#1: *9999999999999999999999 upstream timed out, upstream: \"",
        "2026/11/26 03:12:04 [error] 1#1: upstream timed out, client: x, upstream: \"http://unix:\"",
        "2026/11/26 03:12:04\u{e9}[error] upstream timed out",
        "2026/11/26 03:12:0\u{e9} [error] upstream timed out",
    ] {
        let _ = parse_line(line).map(|e| e.upstream.as_deref().map(Peer::parse));
    }
}

fn seed_lines() -> Vec<String> {
    [LAB, OTHER, ATTRIBUTION, CAUSES, REAL]
        .iter()
        .flat_map(|t| t.lines().map(String::from))
        .collect()
}

/// A real line with bytes replaced, inserted or cut at random places.
fn mutated() -> impl Strategy<Value = String> {
    crate::hostile::mutated(seed_lines(), 8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_real_lines_never_panic(line in mutated()) {
        if let Some(e) = parse_line(&line) {
            prop_assert!(e.message.len() <= line.len());
            let _ = e.upstream.as_deref().and_then(Peer::parse);
            let _ = group([&e]);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse(&text, at("2026/11/26 00:00:00"));
        let _ = Peer::parse(&text);
    }
}
