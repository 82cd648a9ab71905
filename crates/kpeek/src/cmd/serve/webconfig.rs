//! The web-config file of Prometheus's exporter-toolkit: TLS (`tls_server_config`) and basic
//! auth (`basic_auth_users`, bcrypt hashes). Relative paths are relative to the file.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   min_version: TLS12        # or TLS13
//! basic_auth_users:
//!   prometheus: $2y$10$...    # htpasswd -nBC 10 prometheus
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    tls_server_config: Option<RawTls>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    http_server_config: Option<RawHttp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
}

/// TLS and users, ready to serve.
#[derive(Default)]
pub struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// user -> bcrypt hash.
    pub users: Option<BTreeMap<String, String>>,
}

fn tls_version(v: &str, key: &str) -> anyhow::Result<&'static rustls::SupportedProtocolVersion> {
    match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        _ => anyhow::bail!("tls_server_config.{key}: {v:?} (kpeek supports TLS12 and TLS13)"),
    }
}

impl WebConfig {
    /// Load and check a web-config file: certificates and key readable and matching, every
    /// password hash a valid bcrypt hash.
    pub fn load(path: &Path) -> anyhow::Result<WebConfig> {
        let file = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--web-config {file}: cannot read: {e}"))?;
        let raw: Raw = serde_yaml_ng::from_str(&text)
            .map_err(|e| anyhow::anyhow!("--web-config {file}: {e}"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut out = WebConfig::default();
        if let Some(RawHttp { http2: Some(true) }) = raw.http_server_config {
            anyhow::bail!(
                "--web-config {file}: http_server_config.http2: kpeek serves HTTP/1.1 only"
            );
        }
        if let Some(t) = raw.tls_server_config {
            let (Some(cert), Some(key)) = (t.cert_file, t.key_file) else {
                anyhow::bail!(
                    "--web-config {file}: tls_server_config needs both cert_file and key_file"
                );
            };
            let cert = dir.join(cert);
            let key = dir.join(key);
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| {
                    anyhow::anyhow!("--web-config {file}: cert_file {}: {e}", cert.display())
                })?;
            if certs.is_empty() {
                anyhow::bail!(
                    "--web-config {file}: cert_file {}: no certificate in it",
                    cert.display()
                );
            }
            let key_der = PrivateKeyDer::from_pem_file(&key).map_err(|e| {
                anyhow::anyhow!("--web-config {file}: key_file {}: {e}", key.display())
            })?;
            let mut versions: Vec<&'static rustls::SupportedProtocolVersion> =
                vec![&rustls::version::TLS13, &rustls::version::TLS12];
            if let Some(v) = &t.min_version
                && tls_version(v, "min_version")? == &rustls::version::TLS13
            {
                versions.retain(|x| *x == &rustls::version::TLS13);
            }
            if let Some(v) = &t.max_version
                && tls_version(v, "max_version")? == &rustls::version::TLS12
            {
                versions.retain(|x| *x == &rustls::version::TLS12);
            }
            if versions.is_empty() {
                anyhow::bail!("--web-config {file}: min_version is above max_version");
            }
            // ring, not aws-lc-rs: it builds into the static guest binary without cmake. Its
            // provider lacks post-quantum key exchange, hence rustls's deprecation note.
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ServerConfig::builder_with_provider(provider)
                .with_protocol_versions(&versions)
                .map_err(|e| anyhow::anyhow!("--web-config {file}: {e}"))?
                .with_no_client_auth()
                .with_single_cert(certs, key_der)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "--web-config {file}: cert_file and key_file do not make a usable pair: {e}"
                    )
                })?;
            out.tls = Some(Arc::new(cfg));
        }
        if let Some(users) = raw.basic_auth_users {
            for (u, h) in &users {
                if u.contains(':') {
                    anyhow::bail!("--web-config {file}: basic_auth_users: user {u:?} contains ':'");
                }
                h.parse::<bcrypt::HashParts>().map_err(|e| {
                    anyhow::anyhow!(
                        "--web-config {file}: basic_auth_users.{u}: not a bcrypt hash ({e}); \
                         make one with `htpasswd -nBC 10 {u}`"
                    )
                })?;
            }
            out.users = Some(users);
        }
        Ok(out)
    }
}

/// Pairs already verified (bcrypt is slow on purpose; a scraper sends the same pair every
/// time).
static VERIFIED: Mutex<Option<HashSet<(String, String)>>> = Mutex::new(None);

/// Does the `Authorization` header carry a user and password that `users` accepts?
pub fn authorized(users: &BTreeMap<String, String>, header: Option<&str>) -> bool {
    let Some(h) = header else { return false };
    let Some((scheme, b64)) = h.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let Ok(pair) = String::from_utf8(raw) else {
        return false;
    };
    let Some((user, pass)) = pair.split_once(':') else {
        return false;
    };
    let Some(hash) = users.get(user) else {
        return false;
    };
    let key = (user.to_owned(), pass.to_owned());
    if let Ok(g) = VERIFIED.lock()
        && g.as_ref().is_some_and(|s| s.contains(&key))
    {
        return true;
    }
    let ok = bcrypt::verify(pass, hash).unwrap_or(false);
    if ok && let Ok(mut g) = VERIFIED.lock() {
        g.get_or_insert_with(HashSet::new).insert(key);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, s: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, s).unwrap();
        p
    }

    #[test]
    fn basic_auth() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let users: BTreeMap<_, _> = [("alice".to_owned(), hash)].into();
        let hdr = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        assert!(authorized(&users, Some(&hdr("alice", "s3cret"))));
        assert!(authorized(&users, Some(&hdr("alice", "s3cret"))));
        assert!(!authorized(&users, Some(&hdr("alice", "wrong"))));
        assert!(!authorized(&users, Some(&hdr("bob", "s3cret"))));
        assert!(!authorized(&users, Some("Bearer x")));
        assert!(!authorized(&users, Some("Basic !!!")));
        assert!(!authorized(&users, None));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let d = tempfile::tempdir().unwrap();
        let e = |s: &str| {
            let p = write(d.path(), "w.yml", s);
            WebConfig::load(&p)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(e("basic_auth_users:\n  a: plain\n").contains("not a bcrypt hash"));
        assert!(
            e("tls_server_config:\n  cert_file: x.crt\n").contains("both cert_file and key_file")
        );
        assert!(e("tls_server_config:\n  cert_file: x.crt\n  key_file: x.key\n").contains("x.crt"));
        assert!(e("colour: blue\n").contains("colour"));
        assert!(e("basic_auth_users: [\n").contains("line"));
        assert!(
            e("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: SSL3\n")
                .contains("a")
        );
        let ok = write(
            d.path(),
            "ok.yml",
            &format!(
                "basic_auth_users:\n  a: '{}'\n",
                bcrypt::hash("x", 4).unwrap()
            ),
        );
        assert!(WebConfig::load(&ok).unwrap().users.is_some());
    }
}
