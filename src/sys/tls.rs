//! One TLS handshake, to read what a server presents: its certificate chain as served for a
//! name (SNI), the protocol version and the ALPN protocol it picked. The same rustls stack the
//! HTTP probes use, with a verifier that records the chain and judges nothing: the tls step
//! judges it, so an expired or mismatched certificate is described instead of refused.

use std::io::{ErrorKind, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use crate::format::{io_message, secs};
use crate::sys::http::{connect_timeout, Failure, FailureKind, UrlParts};

/// A server presents a handful of certificates; more is not a chain worth reading.
const CHAIN_MAX: usize = 8;

/// What the server presented in its handshake.
#[derive(Debug, Clone)]
pub struct Served {
    pub addr: SocketAddr,
    /// DER, leaf first, as sent.
    pub chain: Vec<Vec<u8>>,
    /// `TLSv1.3`, `TLSv1.2`.
    pub protocol: Option<String>,
    /// What ALPN settled on (`h2`, `http/1.1`), when the server chose one.
    pub alpn: Option<String>,
    pub elapsed_ms: u64,
}

/// Connects to `via` (or the URL's host) and completes one handshake with the URL's host as
/// SNI, offering `h2` and `http/1.1`. Sends no request. Bounded by the connect timeout.
pub fn inspect(url: &str, via: Option<&str>, timeout: Duration) -> Result<Served, Failure> {
    let started = Instant::now();
    let fail = |kind, message: String| Failure {
        kind,
        message,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    let parts = UrlParts::parse(url).map_err(|m| fail(FailureKind::Local, m))?;
    let addrs = parts
        .connect_addrs(via, timeout)
        .map_err(|m| fail(FailureKind::Dns, m))?;
    let name = ServerName::try_from(parts.host.clone())
        .map_err(|e| fail(FailureKind::Local, format!("{}: {e}", parts.host)))?;
    let limit = connect_timeout(timeout);
    let mut last = fail(FailureKind::Dns, format!("{} has no address", parts.host));
    for addr in addrs.into_iter().take(4) {
        match handshake(addr, name.clone(), limit) {
            Ok(mut served) => {
                served.elapsed_ms = started.elapsed().as_millis() as u64;
                return Ok(served);
            }
            Err((kind, message)) => last = fail(kind, message),
        }
    }
    Err(last)
}

fn handshake(
    addr: SocketAddr,
    name: ServerName<'static>,
    limit: Duration,
) -> Result<Served, (FailureKind, String)> {
    let deadline = Instant::now() + limit;
    let mut tcp = TcpStream::connect_timeout(&addr, limit).map_err(|e| {
        let kind = match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => FailureKind::ConnectTimeout,
            _ if crate::sys::http::is_local(&e) => FailureKind::Local,
            _ => FailureKind::Connect,
        };
        (kind, format!("{addr}: {}", io_message(&e)))
    })?;
    let io = |e: std::io::Error| (FailureKind::Local, io_message(&e));
    tcp.set_read_timeout(Some(limit)).map_err(io)?;
    tcp.set_write_timeout(Some(limit)).map_err(io)?;
    let recorder = Arc::new(Recorder::default());
    let mut conn = ClientConnection::new(config(recorder.clone()), name)
        .map_err(|e| (FailureKind::Local, format!("TLS: {e}")))?;
    while conn.is_handshaking() {
        if Instant::now() >= deadline {
            return Err(no_handshake(limit));
        }
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) if conn.wants_read() => {
                return Err((
                    FailureKind::Tls,
                    "the server closed the connection during the TLS handshake".into(),
                ))
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                return Err(no_handshake(limit))
            }
            Err(e) => return Err((FailureKind::Tls, format!("TLS handshake failed: {e}"))),
        }
    }
    conn.send_close_notify();
    let _ = conn.write_tls(&mut tcp);
    let _ = tcp.flush();
    let chain = std::mem::take(
        &mut *recorder
            .chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    Ok(Served {
        addr,
        chain,
        protocol: conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        }),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        elapsed_ms: 0,
    })
}

fn no_handshake(limit: Duration) -> (FailureKind, String) {
    (
        FailureKind::ResponseTimeout,
        format!("connected but no TLS handshake within {}", secs(limit)),
    )
}

fn config(recorder: Arc<Recorder>) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(recorder.provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(recorder)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Keeps the chain and accepts it; the handshake's own signatures are still checked, so the
/// chain recorded is the one the peer holds the key of.
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<Vec<u8>>>,
    provider: Arc<CryptoProvider>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            chain: Mutex::new(Vec::new()),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .take(CHAIN_MAX)
            .map(|c| c.as_ref().to_vec())
            .collect();
        *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
