//! The cluster's certificates: a CA, the apiserver's serving certificate and client
//! certificates, created on the first start and reused afterwards.
//!
//! Everything lives in `<data dir>/tls/`:
//!
//! | file | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | the cluster CA (ECDSA P-256, 10 years); never replaced once present |
//! | `serving.crt`, `serving.key` | the apiserver's TLS certificate, re-issued when its names change or it nears expiry |
//! | `admin.crt`, `admin.key` | the `admin` / `system:masters` client certificate used by the admin kubeconfig |
//!
//! Private keys and kubeconfigs are written with mode 0600, atomically (temp file + rename),
//! so a crash never leaves a half-written key behind.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber, SigningKey,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// Validity of the cluster CA. Long, because replacing it invalidates every kubeconfig.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Validity of leaf certificates (serving and client), as upstream's kubeadm issues them.
const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// A leaf closer than this to expiry is re-issued at start, so a restarted server always has
/// months of margin.
const RENEW_BEFORE: Duration = Duration::from_secs(90 * 24 * 3600);
/// Certificates start slightly in the past so clients with a small clock skew accept them.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// The name under which the CA, the cluster and the context appear in written kubeconfigs.
pub const KUBECONFIG_CLUSTER: &str = "rkube";
/// The user name of the cluster administrator (client certificate CN).
pub const ADMIN_USER: &str = "admin";
/// The group that upstream's default RBAC binds to `cluster-admin`.
pub const ADMIN_GROUP: &str = "system:masters";

/// Extra names for the serving certificate, beyond the fixed ones every cluster gets.
///
/// Clients check the server's name against the certificate, so every address a client may
/// use (the node IP, the first service IP `10.96.0.1`, a load balancer name) must be listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PkiOptions {
    /// Additional DNS names.
    pub hostnames: Vec<String>,
    /// Additional IP addresses.
    pub ips: Vec<IpAddr>,
}

/// The loaded cluster PKI: the CA (which can sign more client certificates), the serving
/// identity as a ready rustls config, and the admin client identity.
pub struct Pki {
    ca: Ca,
    serving_cert_pem: String,
    admin_cert_pem: String,
    admin_key_pem: String,
    server_config: Arc<ServerConfig>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Pki")
            .field("dir", &self.ca.dir)
            .finish_non_exhaustive()
    }
}

/// The ring crypto provider, used explicitly so rkube never depends on which provider some
/// other crate installed as the process default.
fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide rustls provider if none is installed yet, because
/// in-process clients (kube-rs) build their rustls configs from the default provider.
pub fn install_default_crypto_provider() {
    // An error only means a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Loads the PKI from `data_dir/tls/`, creating whatever is missing.
///
/// The CA is created only if neither `ca.crt` nor `ca.key` exists (a half-present CA is an
/// error rather than silently replaced, because replacing it would lock every client out).
/// The serving certificate is re-issued when its SAN set differs from the wanted one, when
/// it is no longer valid under the CA, or when it expires within 90 days; the admin client
/// certificate likewise.
pub fn load_or_create(data_dir: &Path, opts: &PkiOptions) -> anyhow::Result<Pki> {
    install_default_crypto_provider();
    let provider = ring_provider();
    let dir = data_dir.join("tls");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("setting the mode of {}", dir.display()))?;

    let (ca_cert_pem, ca_key) = load_or_create_ca(&dir)?;
    let ca_cert_der = CertificateDer::from_pem_slice(ca_cert_pem.as_bytes())
        .with_context(|| format!("parsing {}", dir.join("ca.crt").display()))?;
    let mut roots = RootCertStore::empty();
    roots
        .add(ca_cert_der.clone())
        .context("adding the cluster CA to the trust store")?;
    let ca = Ca {
        dir,
        provider,
        cert_pem: ca_cert_pem,
        cert_der: ca_cert_der,
        key: ca_key,
        roots: Arc::new(roots),
    };

    let wanted_sans = serving_sans(opts);
    let (serving_cert_pem, serving_key_pem) = ca.load_or_issue_leaf(
        "serving",
        |der| {
            let (_, cert) = x509_parser::parse_x509_certificate(der)
                .map_err(|e| anyhow::anyhow!("parsing the serving certificate: {e}"))?;
            if cert_sans(&cert)? != wanted_sans {
                return Ok(Some("its names changed".into()));
            }
            ca.verify_server_leaf(der)
        },
        || {
            ca.issue(
                "kube-apiserver",
                &[],
                &wanted_sans,
                ExtendedKeyUsagePurpose::ServerAuth,
            )
        },
    )?;

    let admin_groups = vec![ADMIN_GROUP.to_string()];
    let (admin_cert_pem, admin_key_pem) = ca.load_or_issue_leaf(
        "admin",
        |der| {
            let (_, cert) = x509_parser::parse_x509_certificate(der)
                .map_err(|e| anyhow::anyhow!("parsing the admin certificate: {e}"))?;
            let (cn, orgs) = subject_identity(&cert);
            if cn.as_deref() != Some(ADMIN_USER) || orgs != admin_groups {
                return Ok(Some("its subject is not admin/system:masters".into()));
            }
            ca.verify_client_leaf(der)
        },
        || {
            ca.issue(
                ADMIN_USER,
                &admin_groups,
                &BTreeSet::new(),
                ExtendedKeyUsagePurpose::ClientAuth,
            )
        },
    )?;

    let server_config = build_server_config(
        ca.provider.clone(),
        ca.roots.clone(),
        &serving_cert_pem,
        &serving_key_pem,
    )?;
    Ok(Pki {
        ca,
        serving_cert_pem,
        admin_cert_pem,
        admin_key_pem,
        server_config,
    })
}

impl Pki {
    /// The directory holding the certificate files (`<data dir>/tls`).
    pub fn dir(&self) -> &Path {
        &self.ca.dir
    }

    /// The CA certificate in PEM, for clients that must trust this cluster (kubeconfigs,
    /// the `kube-root-ca.crt` ConfigMap, joining agents).
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// The serving certificate in PEM, for diagnostics and tests.
    pub fn serving_cert_pem(&self) -> &str {
        &self.serving_cert_pem
    }

    /// The admin client certificate and key in PEM: the identity behind `admin.kubeconfig`.
    pub fn admin_identity_pem(&self) -> (&str, &str) {
        (&self.admin_cert_pem, &self.admin_key_pem)
    }

    /// The TLS configuration for the apiserver listener: TLS 1.2 and 1.3, ALPN `h2` and
    /// `http/1.1`, and optional client certificates that, when presented, must chain to the
    /// cluster CA (clients without certificates authenticate by token or stay anonymous).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server_config.clone()
    }

    /// Issues a client certificate (CN = `user`, one O per group) signed by the cluster CA,
    /// for in-process components and tests. Returns `(cert_pem, key_pem)`; nothing is
    /// written to disk.
    pub fn issue_client_cert(
        &self,
        user: &str,
        groups: &[String],
    ) -> anyhow::Result<(String, String)> {
        if user.is_empty() {
            bail!("a client certificate needs a user name");
        }
        self.ca
            .issue(
                user,
                groups,
                &BTreeSet::new(),
                ExtendedKeyUsagePurpose::ClientAuth,
            )
            .with_context(|| format!("issuing a client certificate for {user}"))
    }

    /// A rustls client configuration trusting the cluster CA, optionally presenting a client
    /// certificate `(cert_pem, key_pem)`, for Rust clients that talk to the apiserver
    /// without a kubeconfig.
    pub fn client_config(
        &self,
        identity: Option<(&str, &str)>,
    ) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let builder = rustls::ClientConfig::builder_with_provider(self.ca.provider.clone())
            .with_safe_default_protocol_versions()
            .context("choosing TLS versions")?
            .with_root_certificates(self.ca.roots.clone());
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some((cert_pem, key_pem)) => {
                let chain = parse_cert_chain(cert_pem)?;
                let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                    .context("parsing the client key")?;
                builder
                    .with_client_auth_cert(chain, key)
                    .context("using the client certificate")?
            }
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The text of a kubeconfig for `server_url` with the CA and a client certificate embedded
    /// (base64), cluster and context named `rkube`, user entry named `user`. In-process clients
    /// can load it without touching the disk.
    pub fn kubeconfig_yaml(
        &self,
        server_url: &str,
        user: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> anyhow::Result<String> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        let doc = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": KUBECONFIG_CLUSTER,
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": b64(&self.ca.cert_pem),
                },
            }],
            "contexts": [{
                "name": KUBECONFIG_CLUSTER,
                "context": { "cluster": KUBECONFIG_CLUSTER, "user": user },
            }],
            "current-context": KUBECONFIG_CLUSTER,
            "preferences": {},
            "users": [{
                "name": user,
                "user": {
                    "client-certificate-data": b64(cert_pem),
                    "client-key-data": b64(key_pem),
                },
            }],
        });
        serde_norway::to_string(&doc).context("serializing the kubeconfig")
    }

    /// Writes [`Pki::kubeconfig_yaml`] to `path` with mode 0600 (it holds a private key).
    pub fn write_kubeconfig(
        &self,
        path: &Path,
        server_url: &str,
        user: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> anyhow::Result<()> {
        let yaml = self.kubeconfig_yaml(server_url, user, cert_pem, key_pem)?;
        write_private(path, yaml.as_bytes())
    }

    /// Writes the administrator's kubeconfig (user `admin`, group `system:masters`) to `path`.
    pub fn write_admin_kubeconfig(&self, path: &Path, server_url: &str) -> anyhow::Result<()> {
        self.write_kubeconfig(
            path,
            server_url,
            ADMIN_USER,
            &self.admin_cert_pem,
            &self.admin_key_pem,
        )
    }
}

/// The cluster CA with what it needs to sign and verify leaf certificates.
struct Ca {
    dir: PathBuf,
    provider: Arc<CryptoProvider>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    key: KeyPair,
    roots: Arc<RootCertStore>,
}

impl Ca {
    /// Loads `<name>.crt`/`<name>.key` if both exist, match each other and `check` accepts
    /// the certificate; otherwise issues a new pair with `issue` and writes it.
    fn load_or_issue_leaf(
        &self,
        name: &str,
        check: impl Fn(&CertificateDer<'_>) -> anyhow::Result<Option<String>>,
        issue: impl FnOnce() -> anyhow::Result<(String, String)>,
    ) -> anyhow::Result<(String, String)> {
        let cert_path = self.dir.join(format!("{name}.crt"));
        let key_path = self.dir.join(format!("{name}.key"));
        match load_leaf(&cert_path, &key_path, &check) {
            Ok(Some(pair)) => return Ok(pair),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                "re-issuing the {name} certificate: {}: {e:#}",
                cert_path.display()
            ),
        }
        let (cert_pem, key_pem) = issue()?;
        write_private(&key_path, key_pem.as_bytes())?;
        write_public(&cert_path, cert_pem.as_bytes())?;
        Ok((cert_pem, key_pem))
    }

    /// Checks that a serving certificate chains to the CA, is valid for `localhost` and does
    /// not expire soon. `Ok(Some(reason))` asks for re-issue.
    fn verify_server_leaf(&self, der: &CertificateDer<'_>) -> anyhow::Result<Option<String>> {
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            self.roots.clone(),
            self.provider.clone(),
        )
        .build()
        .context("building a server certificate verifier")?;
        let name = ServerName::try_from("localhost").expect("valid server name");
        if let Err(e) = verifier.verify_server_cert(der, &[], &name, &[], soon()) {
            return Ok(Some(format!("it does not verify against the CA: {e}")));
        }
        Ok(None)
    }

    /// Checks that a client certificate chains to the CA and does not expire soon.
    fn verify_client_leaf(&self, der: &CertificateDer<'_>) -> anyhow::Result<Option<String>> {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()
                .context("building a client certificate verifier")?;
        if let Err(e) = verifier.verify_client_cert(der, &[], soon()) {
            return Ok(Some(format!("it does not verify against the CA: {e}")));
        }
        Ok(None)
    }

    /// Creates a fresh key and a leaf certificate for it, signed by the CA.
    fn issue(
        &self,
        cn: &str,
        orgs: &[String],
        sans: &BTreeSet<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> anyhow::Result<(String, String)> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .context("generating an ECDSA key")?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.subject_alt_names = sans
            .iter()
            .map(|s| match s.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(
                    s.clone()
                        .try_into()
                        .with_context(|| format!("invalid DNS name {s:?}"))?,
                )),
            })
            .collect::<anyhow::Result<_>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, LEAF_VALIDITY);
        let issuer = Issuer::from_ca_cert_der(&self.cert_der, &self.key)
            .context("loading the CA as issuer")?;
        let cert = params
            .signed_by(&key, &issuer)
            .context("signing the certificate")?;
        let der = if orgs.is_empty() {
            cert.der().to_vec()
        } else {
            // rcgen keeps one value per attribute type, but Kubernetes puts every group in an
            // O attribute of its own; rewrite the subject and sign again.
            resign_with_subject(cert.der(), &encode_name(cn, orgs), &self.key)?
        };
        Ok((der_to_pem("CERTIFICATE", &der), key.serialize_pem()))
    }
}

/// Loads the CA, or creates it when neither of its files exists.
fn load_or_create_ca(dir: &Path) -> anyhow::Result<(String, KeyPair)> {
    let cert_path = dir.join("ca.crt");
    let key_path = dir.join("ca.key");
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let cert_pem = fs::read_to_string(&cert_path)
                .with_context(|| format!("reading {}", cert_path.display()))?;
            let key_pem = fs::read_to_string(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?;
            let key = KeyPair::from_pem(&key_pem)
                .with_context(|| format!("parsing {}", key_path.display()))?;
            let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
                .with_context(|| format!("parsing {}", cert_path.display()))?;
            let (_, cert) = x509_parser::parse_x509_certificate(&der)
                .map_err(|e| anyhow::anyhow!("parsing {}: {e}", cert_path.display()))?;
            if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
                bail!(
                    "{} does not belong to {}; refusing to replace the cluster CA",
                    key_path.display(),
                    cert_path.display()
                );
            }
            ensure_private_mode(&key_path)?;
            Ok((cert_pem, key))
        }
        (false, false) => {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .context("generating the CA key")?;
            let mut params = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            // A per-cluster name, so users with several clusters can tell the CAs apart and
            // verifiers, which find issuers by name, never confuse two CAs made in the same
            // second.
            let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
            dn.push(DnType::CommonName, format!("rkube-ca@{now}-{tag}"));
            params.distinguished_name = dn;
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            set_validity(&mut params, CA_VALIDITY);
            let cert = params
                .self_signed(&key)
                .context("self-signing the CA certificate")?;
            let cert_pem = cert.pem();
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            write_public(&cert_path, cert_pem.as_bytes())?;
            tracing::info!("created the cluster CA in {}", dir.display());
            Ok((cert_pem, key))
        }
        (true, false) => bail!(
            "{} exists but {} is missing; restore the CA key or remove both to create a new CA",
            cert_path.display(),
            key_path.display()
        ),
        (false, true) => bail!(
            "{} exists but {} is missing; restore the CA certificate or remove both to create a new CA",
            key_path.display(),
            cert_path.display()
        ),
    }
}

/// Reads a leaf pair; `Ok(None)` when absent, `Err` (logged, then re-issued) when unusable.
fn load_leaf(
    cert_path: &Path,
    key_path: &Path,
    check: &impl Fn(&CertificateDer<'_>) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<Option<(String, String)>> {
    if !cert_path.exists() || !key_path.exists() {
        return Ok(None);
    }
    let cert_pem = fs::read_to_string(cert_path)
        .with_context(|| format!("reading {}", cert_path.display()))?;
    let key_pem =
        fs::read_to_string(key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let key = KeyPair::from_pem(&key_pem).context("parsing the key")?;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).context("parsing the PEM")?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&der).map_err(|e| anyhow::anyhow!("parsing: {e}"))?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        bail!("the key does not match the certificate");
    }
    if let Some(reason) = check(&der)? {
        bail!("{reason}");
    }
    ensure_private_mode(key_path)?;
    Ok(Some((cert_pem, key_pem)))
}

/// The full SAN set of the serving certificate: the fixed names every apiserver answers to,
/// the machine's host name, and the caller's extras. DNS names are lower-cased; IPs are in
/// their canonical text form, so the set compares equal to what [`cert_sans`] reads back.
pub fn serving_sans(opts: &PkiOptions) -> BTreeSet<String> {
    let mut sans = BTreeSet::new();
    for name in [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ] {
        sans.insert(name.to_string());
    }
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        sans.insert(ip.to_string());
    }
    if let Ok(host) = hostname::get()
        && let Some(host) = host.to_str()
        && !host.is_empty()
        && host.is_ascii()
    {
        sans.insert(host.to_ascii_lowercase());
    }
    for name in &opts.hostnames {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        // A host name that is really an IP address belongs in the IP SANs.
        match name.parse::<IpAddr>() {
            Ok(ip) => sans.insert(ip.to_string()),
            Err(_) => sans.insert(name.to_ascii_lowercase()),
        };
    }
    for ip in &opts.ips {
        sans.insert(ip.to_string());
    }
    sans
}

/// Reads the DNS and IP SANs of a certificate in the same normal form as [`serving_sans`].
pub fn cert_sans(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> anyhow::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let Some(ext) = cert
        .subject_alternative_name()
        .map_err(|e| anyhow::anyhow!("reading the SAN extension: {e}"))?
    else {
        return Ok(out);
    };
    for name in &ext.value.general_names {
        match name {
            x509_parser::extensions::GeneralName::DNSName(d) => {
                out.insert(d.to_ascii_lowercase());
            }
            x509_parser::extensions::GeneralName::IPAddress(b) => {
                let ip = match b.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(*b).expect("length checked")),
                    16 => IpAddr::from(<[u8; 16]>::try_from(*b).expect("length checked")),
                    n => bail!("an IP SAN of {n} bytes"),
                };
                out.insert(ip.to_string());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The Kubernetes identity of a certificate: the subject CN (user name) and the O values
/// (groups), in order.
pub fn subject_identity(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> (Option<String>, Vec<String>) {
    let subject = cert.subject();
    let cn = subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    let orgs = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .map(str::to_string)
        .collect();
    (cn, orgs)
}

fn build_server_config(
    provider: Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    cert_pem: &str,
    key_pem: &str,
) -> anyhow::Result<Arc<ServerConfig>> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let chain = parse_cert_chain(cert_pem)?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).context("parsing the serving key")?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("choosing TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("loading the serving certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn parse_cert_chain(pem: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("parsing a PEM certificate chain")?;
    if chain.is_empty() {
        bail!("no certificate in PEM data");
    }
    Ok(chain)
}

/// "Now" shifted forward by the renewal margin: a certificate that would be invalid then is
/// treated as invalid today, so it is re-issued before it expires.
fn soon() -> UnixTime {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(RENEW_BEFORE);
    UnixTime::since_unix_epoch(t)
}

/// Sets a random positive serial and a validity window of `valid_for` starting a little in the
/// past.
fn set_validity(params: &mut CertificateParams, valid_for: Duration) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(BACKDATE);
    params.not_after = epoch + now + valid_for;
    let mut serial = *uuid::Uuid::new_v4().as_bytes();
    // Positive and of full length, as RFC 5280 wants.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
}

fn der_to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// --- Minimal DER helpers for the multi-O subject -------------------------------------------

/// Encodes one DER element.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The first DER element of some input, and what follows it.
struct DerSplit<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
    rest: &'a [u8],
}

/// Splits the first DER element off `input`.
fn der_split(input: &[u8]) -> anyhow::Result<DerSplit<'_>> {
    let tag = *input.first().context("truncated DER")?;
    let first = *input.get(1).context("truncated DER")?;
    let (hdr, len) = if first < 0x80 {
        (2, first as usize)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            bail!("unsupported DER length");
        }
        let bytes = input.get(2..2 + n).context("truncated DER")?;
        (
            2 + n,
            bytes.iter().fold(0usize, |a, b| (a << 8) | *b as usize),
        )
    };
    let end = hdr.checked_add(len).context("DER length overflow")?;
    if input.len() < end {
        bail!("truncated DER");
    }
    Ok(DerSplit {
        tag,
        content: &input[hdr..end],
        whole: &input[..end],
        rest: &input[end..],
    })
}

/// A Name of one RDN per group (O) followed by the CN, the shape Kubernetes' own tools produce.
fn encode_name(cn: &str, orgs: &[String]) -> Vec<u8> {
    const OID_CN: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    const OID_O: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x0a];
    let rdn = |oid: &[u8], value: &str| {
        let mut atv = oid.to_vec();
        atv.extend(der(0x0c, value.as_bytes())); // UTF8String
        der(0x31, &der(0x30, &atv))
    };
    let mut rdns = Vec::new();
    for o in orgs {
        rdns.extend(rdn(&OID_O, o));
    }
    rdns.extend(rdn(&OID_CN, cn));
    der(0x30, &rdns)
}

/// Replaces the subject of a signed certificate and signs the result again with `key`.
fn resign_with_subject(cert: &[u8], subject: &[u8], key: &KeyPair) -> anyhow::Result<Vec<u8>> {
    let outer = der_split(cert)?;
    let tbs = der_split(outer.content)?;
    if outer.tag != 0x30 || tbs.tag != 0x30 {
        bail!("unexpected certificate layout");
    }
    let sig_alg = der_split(tbs.rest)?.whole;
    let tbs = tbs.content;
    // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, ...
    let mut fields = Vec::new();
    let mut cursor = tbs;
    while !cursor.is_empty() {
        let field = der_split(cursor)?;
        fields.push(field.whole);
        cursor = field.rest;
    }
    if fields.len() < 7 || fields[0].first() != Some(&0xa0) {
        bail!("unexpected certificate layout");
    }
    let mut new_tbs_content = Vec::with_capacity(tbs.len() + subject.len());
    for (i, f) in fields.iter().enumerate() {
        if i == 5 {
            new_tbs_content.extend_from_slice(subject);
        } else {
            new_tbs_content.extend_from_slice(f);
        }
    }
    let new_tbs = der(0x30, &new_tbs_content);
    let signature = key.sign(&new_tbs).context("signing the certificate")?;
    let mut bits = vec![0u8];
    bits.extend(signature);
    let mut body = new_tbs;
    body.extend_from_slice(sig_alg);
    body.extend(der(0x03, &bits));
    Ok(der(0x30, &body))
}

// --- Files -----------------------------------------------------------------------------------

/// Writes `data` to `path` with `mode` via a temporary file and rename, so readers never see a
/// partial file and a key never exists with looser permissions, even briefly.
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let file_name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, data, 0o600)
}

fn write_public(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, data, 0o644)
}

/// Tightens a key file that someone loosened, rather than serving with a world-readable key.
fn ensure_private_mode(path: &Path) -> anyhow::Result<()> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_pem(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_then_reloaded_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = PkiOptions {
            hostnames: vec!["api.example.test".into()],
            ips: vec!["10.96.0.1".parse().unwrap()],
        };
        let a = load_or_create(tmp.path(), &opts).unwrap();
        let tls = tmp.path().join("tls");
        for f in ["ca.key", "serving.key", "admin.key"] {
            assert_eq!(mode(&tls.join(f)), 0o600, "{f}");
        }
        let b = load_or_create(tmp.path(), &opts).unwrap();
        assert_eq!(a.ca_cert_pem(), b.ca_cert_pem());
        assert_eq!(a.serving_cert_pem(), b.serving_cert_pem());
        assert_eq!(a.admin_identity_pem(), b.admin_identity_pem());
    }

    #[test]
    fn serving_cert_reissued_when_names_change_but_ca_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let a = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        let opts = PkiOptions {
            hostnames: vec![],
            ips: vec!["192.0.2.7".parse().unwrap()],
        };
        let b = load_or_create(tmp.path(), &opts).unwrap();
        assert_eq!(a.ca_cert_pem(), b.ca_cert_pem());
        assert_ne!(a.serving_cert_pem(), b.serving_cert_pem());
        assert_eq!(a.admin_identity_pem(), b.admin_identity_pem());
        let der = parse_pem(b.serving_cert_pem());
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(cert_sans(&cert).unwrap().contains("192.0.2.7"));
    }

    #[test]
    fn leaves_not_signed_by_the_ca_are_reissued_and_keys_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let a = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        let other = tempfile::tempdir().unwrap();
        load_or_create(other.path(), &PkiOptions::default()).unwrap();
        // Swap in another cluster's serving and admin pairs.
        for f in ["serving.crt", "serving.key", "admin.crt", "admin.key"] {
            fs::copy(
                other.path().join("tls").join(f),
                tmp.path().join("tls").join(f),
            )
            .unwrap();
        }
        let foreign = fs::read_to_string(tmp.path().join("tls/serving.crt")).unwrap();
        let b = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        assert_eq!(a.ca_cert_pem(), b.ca_cert_pem());
        assert_ne!(b.serving_cert_pem(), foreign);
        let der = parse_pem(b.serving_cert_pem());
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let ca = parse_pem(b.ca_cert_pem());
        let (_, ca) = x509_parser::parse_x509_certificate(&ca).unwrap();
        assert_eq!(cert.issuer(), ca.subject());
        assert_eq!(
            b.ca.verify_client_leaf(&parse_pem(b.admin_identity_pem().0))
                .unwrap(),
            None,
            "the admin certificate was not re-issued"
        );

        let key = tmp.path().join("tls/serving.key");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let c = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        assert_eq!(c.serving_cert_pem(), b.serving_cert_pem());
        assert_eq!(mode(&key), 0o600);
    }

    #[test]
    fn serving_cert_has_required_sans() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = PkiOptions {
            hostnames: vec!["Node-A.example.test".into()],
            ips: vec!["10.96.0.1".parse().unwrap(), "127.0.0.42".parse().unwrap()],
        };
        let pki = load_or_create(tmp.path(), &opts).unwrap();
        let der = parse_pem(pki.serving_cert_pem());
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let sans = cert_sans(&cert).unwrap();
        let host = hostname::get()
            .unwrap()
            .to_string_lossy()
            .to_ascii_lowercase();
        for want in [
            "127.0.0.1",
            "::1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "node-a.example.test",
            "10.96.0.1",
            "127.0.0.42",
            host.as_str(),
        ] {
            assert!(sans.contains(want), "missing SAN {want}: {sans:?}");
        }
        // Server auth only, not a CA, and issued by our CA.
        assert!(!cert.is_ca());
        let ca = parse_pem(pki.ca_cert_pem());
        let (_, ca) = x509_parser::parse_x509_certificate(&ca).unwrap();
        assert!(ca.is_ca());
        assert_eq!(cert.issuer(), ca.subject());
        let years = (ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp())
            / (365 * 24 * 3600);
        assert!(years >= 9, "CA valid for {years} years");
    }

    #[test]
    fn client_cert_carries_every_group() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        let groups = vec![
            "g1".to_string(),
            "system:nodes".to_string(),
            "g3".to_string(),
        ];
        let (cert_pem, key_pem) = pki.issue_client_cert("system:node:n1", &groups).unwrap();
        let der = parse_pem(&cert_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(
            subject_identity(&cert),
            (Some("system:node:n1".to_string()), groups)
        );
        // The re-signed certificate still verifies against the CA.
        let roots = {
            let mut r = RootCertStore::empty();
            r.add(parse_pem(pki.ca_cert_pem())).unwrap();
            Arc::new(r)
        };
        let v = WebPkiClientVerifier::builder_with_provider(roots, ring_provider())
            .build()
            .unwrap();
        v.verify_client_cert(&der, &[], UnixTime::now()).unwrap();
        // And the key belongs to it.
        let key = KeyPair::from_pem(&key_pem).unwrap();
        assert_eq!(
            cert.public_key().subject_public_key.data.as_ref(),
            key.public_key_raw()
        );
    }

    #[test]
    fn admin_cert_is_admin_in_system_masters() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        let der = parse_pem(pki.admin_identity_pem().0);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(
            subject_identity(&cert),
            (Some("admin".into()), vec!["system:masters".into()])
        );
    }

    #[test]
    fn half_present_ca_is_an_error_not_a_new_ca() {
        let tmp = tempfile::tempdir().unwrap();
        load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        fs::remove_file(tmp.path().join("tls/ca.key")).unwrap();
        let err = load_or_create(tmp.path(), &PkiOptions::default()).unwrap_err();
        assert!(format!("{err:#}").contains("ca.key is missing"), "{err:#}");
    }

    #[test]
    fn kubeconfig_is_private_and_embeds_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        let path = tmp.path().join("admin.kubeconfig");
        pki.write_admin_kubeconfig(&path, "https://127.0.0.1:6443")
            .unwrap();
        assert_eq!(mode(&path), 0o600);
        let doc: serde_json::Value =
            serde_norway::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let b64 = |v: &serde_json::Value| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(doc["current-context"], "rkube");
        assert_eq!(doc["contexts"][0]["context"]["user"], "admin");
        assert_eq!(doc["users"][0]["name"], "admin");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            b64(&doc["clusters"][0]["cluster"]["certificate-authority-data"]),
            pki.ca_cert_pem()
        );
        let (cert, key) = pki.admin_identity_pem();
        assert_eq!(
            b64(&doc["users"][0]["user"]["client-certificate-data"]),
            cert
        );
        assert_eq!(b64(&doc["users"][0]["user"]["client-key-data"]), key);
    }

    #[test]
    fn kubectl_accepts_the_kubeconfig() {
        let kubectl = Path::new("/usr/bin/kubectl");
        if !kubectl.exists() {
            eprintln!("skipping: no kubectl");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let pki = load_or_create(tmp.path(), &PkiOptions::default()).unwrap();
        let path = tmp.path().join("admin.kubeconfig");
        pki.write_admin_kubeconfig(&path, "https://127.0.0.1:6443")
            .unwrap();
        let out = std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&path)
            .args([
                "config",
                "view",
                "--raw",
                "-o",
                "jsonpath={.current-context} {.clusters[0].cluster.server} {.users[0].name}",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "rkube https://127.0.0.1:6443 admin"
        );
    }

    #[test]
    fn der_length_encoding_round_trips() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let enc = der(0x04, &content);
            let d = der_split(&enc).unwrap();
            let (tag, body, whole, rest) = (d.tag, d.content, d.whole, d.rest);
            assert_eq!(
                (tag, body.len(), whole.len(), rest.len()),
                (4, len, enc.len(), 0)
            );
        }
        assert!(der_split(&[0x30, 0x05, 0x00]).is_err());
    }
}
