//! TLS to every database: a certificate authority the operator keeps in its
//! own namespace (Secret `servicedb-ca`), one server certificate per
//! instance signed by it, and the client side that verifies them. Pure but
//! for the randomness of keys and serial numbers; the controller decides
//! when a certificate is issued ([`needs_issue`]) and stores it in the
//! instance's admin Secret.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Name of the Secret holding the authority, in the operator's namespace.
pub const AUTHORITY_SECRET: &str = "servicedb-ca";
/// How long a server certificate is valid.
pub const SERVER_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);
/// A server certificate is renewed once this much of its life is left.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
const AUTHORITY_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Certificates start to be valid a little before they are made: clocks of
/// clients and servers differ.
const BACKDATE: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("no randomness for a serial number: {0}")]
    Random(#[from] getrandom::Error),
    #[error("the CA certificate does not parse: {0}")]
    Certificate(String),
    #[error("cannot set up the TLS client: {0}")]
    Client(#[from] rustls::Error),
}

/// The operator's certificate authority.
pub struct Authority {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authority(<key redacted>)")
    }
}

/// A server certificate and its key, as the admin Secret keeps them.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerKeys {
    pub cert_pem: String,
    pub key_pem: String,
    /// The authority that signed it, handed to clients as `ca.crt`.
    pub ca_pem: String,
    /// Unix seconds after which it is renewed.
    pub renew_after: u64,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerKeys(renew_after={}, <key redacted>)", self.renew_after)
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn random_serial() -> Result<SerialNumber, TlsError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    bytes[0] &= 0x7f; // a positive INTEGER
    Ok(SerialNumber::from_slice(&bytes))
}

impl Authority {
    /// A new authority, valid for ten years from `now`.
    pub fn generate(now: SystemTime) -> Result<Authority, TlsError> {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "servicedb");
        name.push(DnType::CommonName, "servicedb database CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = (now - BACKDATE).into();
        params.not_after = (now + AUTHORITY_LIFETIME).into();
        params.serial_number = Some(random_serial()?);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        Ok(Authority { issuer: Issuer::new(params, key), cert_pem, key_pem })
    }

    /// The authority kept in the Secret `servicedb-ca`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Authority, TlsError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Authority { issuer, cert_pem: cert_pem.to_string(), key_pem: key_pem.to_string() })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server certificate for `names` (DNS names or IP addresses), with a
    /// fresh key, valid for [`SERVER_LIFETIME`] from `now`.
    pub fn issue(&self, names: &[String], now: SystemTime) -> Result<ServerKeys, TlsError> {
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.distinguished_name = name;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = (now - BACKDATE).into();
        params.not_after = (now + SERVER_LIFETIME).into();
        params.serial_number = Some(random_serial()?);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ServerKeys {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.cert_pem.clone(),
            renew_after: unix_seconds(now + SERVER_LIFETIME - RENEW_BEFORE),
        })
    }
}

/// The names a server certificate of the Service `service` in `namespace`
/// carries: every form of its cluster DNS name, and loopback for the
/// exporter beside the database in its pod.
pub fn server_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        format!("{service}.{namespace}"),
        service.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ]
}

/// Why a certificate is (re)issued, or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issue {
    /// The kept certificate is good.
    Keep,
    /// There is none yet.
    First,
    /// It is due for renewal.
    Renew,
    /// Another authority signed it (the CA Secret was replaced).
    NewAuthority,
}

/// Whether the instance needs a new server certificate at `now`.
pub fn needs_issue(kept: Option<&ServerKeys>, authority_pem: &str, now: SystemTime) -> Issue {
    match kept {
        None => Issue::First,
        Some(keys) if keys.ca_pem != authority_pem => Issue::NewAuthority,
        Some(keys) if unix_seconds(now) >= keys.renew_after => Issue::Renew,
        Some(_) => Issue::Keep,
    }
}

/// A rustls client that trusts only `ca_pem` and checks the server's name.
pub fn client_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| TlsError::Certificate(e.to_string()))?;
        roots.add(cert)?;
    }
    if roots.is_empty() {
        return Err(TlsError::Certificate("no certificate in the PEM text".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + days * 24 * 3600)
    }

    #[test]
    fn an_authority_read_back_from_its_pem_signs_what_the_first_verifies() {
        let authority = Authority::generate(at(0)).unwrap();
        let again = Authority::from_pem(authority.cert_pem(), authority.key_pem()).unwrap();
        let keys = again.issue(&server_names("orders-db", "shop"), at(0)).unwrap();
        assert_eq!(keys.ca_pem, authority.cert_pem());
        assert!(keys.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(keys.key_pem.contains("PRIVATE KEY"));
        assert!(!format!("{keys:?}").contains("PRIVATE"), "Debug redacts the key");
        assert!(client_config(&keys.ca_pem).is_ok());
    }

    #[test]
    fn a_certificate_is_issued_first_renewed_when_due_and_again_for_a_new_authority() {
        let authority = Authority::generate(at(0)).unwrap();
        let keys = authority.issue(&server_names("orders-db", "shop"), at(0)).unwrap();
        assert_eq!(needs_issue(None, authority.cert_pem(), at(0)), Issue::First);
        assert_eq!(needs_issue(Some(&keys), authority.cert_pem(), at(59)), Issue::Keep);
        assert_eq!(needs_issue(Some(&keys), authority.cert_pem(), at(60)), Issue::Renew, "a third of 90 days left");
        let other = Authority::generate(at(0)).unwrap();
        assert_eq!(needs_issue(Some(&keys), other.cert_pem(), at(1)), Issue::NewAuthority);
    }

    #[test]
    fn the_names_cover_every_form_of_the_service_name_and_loopback() {
        let names = server_names("orders-db", "shop");
        for name in ["orders-db", "orders-db.shop", "orders-db.shop.svc", "orders-db.shop.svc.cluster.local"] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
        assert!(names.contains(&"127.0.0.1".to_string()));
    }

    #[test]
    fn a_client_config_needs_a_certificate() {
        assert!(matches!(client_config("not pem"), Err(TlsError::Certificate(_))));
    }
}
