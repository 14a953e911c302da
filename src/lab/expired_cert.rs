//! The `tls-expired` lab's certificate: valid in January 2025 and expired since, made with
//! `openssl ca -selfsign` (plain `openssl req -x509` refuses a validity in the past).

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

const CA_CONF: &str = "[ca]\ndefault_ca = lab\n[lab]\ndatabase = index.txt\nnew_certs_dir = .\n\
    serial = serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n\
    [any]\ncommonName = supplied\n";

/// Replaces `DIR/cert.pem` and `DIR/key.pem` with an expired certificate for `localhost` and
/// 127.0.0.1 (CA:FALSE, as rustls wants of an end entity). Works in `DIR/expired-ca/`.
pub fn write(openssl: &Path, dir: &Path) -> Result<()> {
    let work = dir.join("expired-ca");
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    fs::write(work.join("ca.cnf"), CA_CONF)?;
    fs::write(work.join("index.txt"), "")?;
    fs::write(work.join("serial"), "01\n")?;
    run(
        openssl,
        &work,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "req.pem",
        ],
    )?;
    run(
        openssl,
        &work,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "key.pem",
            "-in",
            "req.pem",
            "-out",
            "cert.pem",
            "-notext",
            "-startdate",
            "20250101000000Z",
            "-enddate",
            "20250201000000Z",
        ],
    )?;
    fs::copy(work.join("cert.pem"), dir.join("cert.pem"))?;
    fs::copy(work.join("key.pem"), dir.join("key.pem"))?;
    Ok(())
}

fn run(openssl: &Path, cwd: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(openssl)
        .args(args)
        .current_dir(cwd)
        .output()
        .with_context(|| format!("running {}", openssl.display()))?;
    if !out.status.success() {
        bail!(
            "openssl {} could not make the expired certificate: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
