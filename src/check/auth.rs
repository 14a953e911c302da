//! `auth`: each verify URL with `auth` is asked twice. Without credentials basic auth must
//! refuse (401 with `WWW-Authenticate: Basic`); with the operator's it must let the request
//! through. The password is read, sent and dropped: it is in no evidence, detail or finding.

use crate::finding::{Finding, FindingCode};
use crate::sanitize::clean;
use crate::step::details::{AuthAnswer, AuthDetails, AuthUrl};
use crate::step::{Recorder, StepName, StepResult};
use crate::sys::http::{Answers, Probe};
use crate::target::{AuthSpec, PasswordSource, Target, VerifySpec};

type Rec = Recorder<AuthDetails>;

pub fn run(target: &Target) -> StepResult {
    run_with(target, &Answers::new())
}

/// [`run`], asking through `answers`: recurl asks the same two requests when the playbook
/// lists the URL with and without credentials.
pub fn run_with(target: &Target, answers: &Answers) -> StepResult {
    let mut rec = Rec::start(StepName::Auth);
    let specs: Vec<(&VerifySpec, &AuthSpec)> = target
        .verify
        .iter()
        .filter_map(|s| Some((s, s.auth.as_ref()?)))
        .collect();
    if specs.is_empty() {
        return rec.skip("no verify URL with auth");
    }
    let mut urls = Vec::new();
    for (spec, auth) in specs {
        let url = ask_twice(target, spec, auth, answers);
        rec.see(line(&url, false));
        rec.see(line(&url, true));
        urls.push((url, auth.password.clone()));
    }
    rec.details.urls = Some(urls.iter().map(|(u, _)| u.clone()).collect());
    let findings: Vec<Finding> = urls.iter().filter_map(|(u, p)| judge(u, p)).collect();
    if let Some(f) = findings.into_iter().next() {
        return rec.fail(f);
    }
    let unread = urls.iter().filter(|(u, _)| u.with.status.is_none()).count();
    if unread == urls.len() {
        return rec.skip(
            "no URL behind basic auth answered with credentials (the evidence and the recurl step say why)",
        );
    }
    rec.ok(format!(
        "basic auth refuses anonymous requests and accepts the operator's credentials ({})",
        crate::text::count(urls.len(), "URL", "URLs")
    ))
}

fn ask_twice(target: &Target, spec: &VerifySpec, auth: &AuthSpec, answers: &Answers) -> AuthUrl {
    let probe = |basic_auth| Probe {
        url: spec.url.clone(),
        via: spec.via.clone(),
        insecure: spec.insecure,
        basic_auth,
        timeout: target.timeout,
    };
    let without = answer(&probe(None), answers);
    let with = match crate::check::recurl::read_password(&auth.password) {
        Ok(password) => answer(&probe(Some((auth.user.clone(), password))), answers),
        Err(e) => AuthAnswer {
            error: Some(e),
            ..AuthAnswer::default()
        },
    };
    AuthUrl {
        url: crate::check::recurl::mask_userinfo(&spec.url),
        user: auth.user.clone(),
        without,
        with,
    }
}

fn answer(probe: &Probe, answers: &Answers) -> AuthAnswer {
    match answers.get_with_headers(probe, &["www-authenticate"]) {
        Ok((resp, headers)) => AuthAnswer {
            status: Some(resp.status),
            www_authenticate: headers.into_iter().next().map(|(_, v)| v),
            error: None,
        },
        Err(f) => AuthAnswer {
            error: Some(f.message),
            ..AuthAnswer::default()
        },
    }
}

/// `GET URL without credentials → 401 (WWW-Authenticate: Basic realm="lab")`
fn line(u: &AuthUrl, with: bool) -> String {
    let (who, a) = if with {
        (format!("as {}", clean(&u.user)), &u.with)
    } else {
        ("without credentials".to_string(), &u.without)
    };
    let head = format!("GET {} {who} →", clean(&u.url));
    match (a.status, &a.error) {
        (Some(s), _) => {
            let challenge = a
                .www_authenticate
                .as_deref()
                .map(|c| format!(" (WWW-Authenticate: {})", clean(c)))
                .unwrap_or_default();
            format!("{head} {s}{challenge}")
        }
        (None, e) => format!("{head} {}", clean(e.as_deref().unwrap_or("no answer"))),
    }
}

fn judge(u: &AuthUrl, password: &PasswordSource) -> Option<Finding> {
    let url = clean(&u.url);
    let user = clean(&u.user);
    if u.with.status == Some(401) {
        let from = match password {
            PasswordSource::Env(var) => format!("the password in ${}", clean(var)),
            PasswordSource::File(path) => {
                format!("the password in {}", clean(&path.display().to_string()))
            }
        };
        let cause = format!(
            "{url} refuses {user} with 401: the htpasswd entry and the operator's credentials differ ({from} is not the one nginx's auth_basic_user_file holds for {user})"
        );
        return Some(Finding::new(FindingCode::AuthRejected, cause).with_action(format!(
            "set the password again with `htpasswd FILE {user}` (the file named by auth_basic_user_file), or give fixer the current one"
        )));
    }
    let open = u.without.status.filter(|s| (200..300).contains(s))?;
    let cause = format!(
        "{url} answers {open} without credentials where basic auth should answer 401: the protection is off"
    );
    Some(Finding::new(FindingCode::AuthNotRequired, cause).with_action(
        "restore auth_basic and auth_basic_user_file in the location that serves this URL, then reload nginx",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(without: Option<u16>, with: Option<u16>) -> AuthUrl {
        AuthUrl {
            url: "http://localhost:8080/".into(),
            user: "admin".into(),
            without: AuthAnswer {
                status: without,
                ..AuthAnswer::default()
            },
            with: AuthAnswer {
                status: with,
                ..AuthAnswer::default()
            },
        }
    }

    #[test]
    fn a_refused_operator_and_an_open_door_are_findings() {
        let env = PasswordSource::Env("APP_PASSWORD".into());
        let f = judge(&url(Some(401), Some(401)), &env).unwrap();
        assert_eq!(f.code, FindingCode::AuthRejected);
        assert!(f
            .cause
            .contains("the htpasswd entry and the operator's credentials differ"));
        assert!(f.cause.contains("$APP_PASSWORD"));
        let f = judge(&url(Some(200), Some(200)), &env).unwrap();
        assert_eq!(f.code, FindingCode::AuthNotRequired);
        assert!(judge(&url(Some(401), Some(200)), &env).is_none());
        // A 502 past the auth check is the backend's problem, not auth's.
        assert!(judge(&url(Some(401), Some(502)), &env).is_none());
    }
}
