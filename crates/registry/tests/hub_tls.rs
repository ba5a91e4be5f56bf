//! The Hugging Face path over HTTPS, against the stand-in hub serving TLS
//! with a certificate from a CA made in the test: trusted only where the
//! platform's certificate store holds that CA, rejected as an unknown issuer
//! where it does not. OpenSSL (native TLS) reads that store, and the
//! certificates that `SSL_CERT_FILE` and `SSL_CERT_DIR` name as well.

#![cfg(not(any(windows, target_vendor = "apple")))]

mod common;

use std::ffi::OsString;
use std::fs;
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};

use common::{chain, content, hub_config, resolve, Conn, Server};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameRef, X509};
use tarjoman_registry::ModelFiles;

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// The tests here change the process's environment, one at a time.
static ENV: Mutex<()> = Mutex::new(());

fn env_lock() -> MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets environment variables for its lifetime, restoring them after.
struct EnvVars(Vec<(&'static str, Option<OsString>)>);

impl EnvVars {
    fn new(names: &[&'static str]) -> EnvVars {
        EnvVars(names.iter().map(|n| (*n, std::env::var_os(n))).collect())
    }
}

impl Drop for EnvVars {
    fn drop(&mut self) {
        for (name, value) in &self.0 {
            match value {
                Some(value) => std::env::set_var(name, value),
                None => std::env::remove_var(name),
            }
        }
    }
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("key")
}

fn name(common_name: &str) -> X509Name {
    let mut name = X509Name::builder().expect("name");
    name.append_entry_by_nid(Nid::COMMONNAME, common_name)
        .expect("CN");
    name.build()
}

fn serial() -> openssl::asn1::Asn1Integer {
    let mut n = BigNum::new().expect("bignum");
    n.rand(64, MsbOption::MAYBE_ZERO, false).expect("random");
    n.to_asn1_integer().expect("serial")
}

/// A v3 certificate of `subject`'s `key`, issued by `issuer`, valid from
/// now for `days`; its extensions and signature are the caller's.
fn certificate(
    subject: &X509NameRef,
    issuer: &X509NameRef,
    key: &PKey<Private>,
    days: u32,
) -> X509Builder {
    let mut cert = X509::builder().expect("builder");
    cert.set_version(2).expect("v3");
    cert.set_serial_number(&serial()).expect("serial");
    cert.set_subject_name(subject).expect("subject");
    cert.set_issuer_name(issuer).expect("issuer");
    cert.set_pubkey(key).expect("key");
    cert.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    cert.set_not_after(&Asn1Time::days_from_now(days).expect("time"))
        .expect("not after");
    cert
}

/// A CA, and a certificate it issued for `127.0.0.1` and `localhost`.
struct Pki {
    ca_pem: Vec<u8>,
    server: native_tls::Identity,
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let ca_key = key();
        let mut ca = certificate(&name(ca_name), &name(ca_name), &ca_key, 2);
        let ext = BasicConstraints::new()
            .critical()
            .ca()
            .build()
            .expect("ext");
        ca.append_extension(ext).expect("ext");
        let ext = KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .expect("ext");
        ca.append_extension(ext).expect("ext");
        let ski = SubjectKeyIdentifier::new()
            .build(&ca.x509v3_context(None, None))
            .expect("ext");
        ca.append_extension(ski).expect("ext");
        ca.sign(&ca_key, MessageDigest::sha256()).expect("sign");
        let ca = ca.build();

        let server_key = key();
        let mut cert = certificate(&name("localhost"), ca.subject_name(), &server_key, 1);
        let ext = BasicConstraints::new().build().expect("ext");
        cert.append_extension(ext).expect("ext");
        let ext = KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .expect("ext");
        cert.append_extension(ext).expect("ext");
        let ext = ExtendedKeyUsage::new().server_auth().build().expect("ext");
        cert.append_extension(ext).expect("ext");
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&cert.x509v3_context(Some(&ca), None))
            .expect("ext");
        cert.append_extension(san).expect("ext");
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&cert.x509v3_context(Some(&ca), None))
            .expect("ext");
        cert.append_extension(aki).expect("ext");
        cert.sign(&ca_key, MessageDigest::sha256()).expect("sign");
        let cert = cert.build();

        let identity = native_tls::Identity::from_pkcs8(
            &cert.to_pem().expect("pem"),
            &server_key.private_key_to_pem_pkcs8().expect("pem"),
        )
        .expect("identity");
        Pki {
            ca_pem: ca.to_pem().expect("pem"),
            server: identity,
        }
    }
}

struct Tls(native_tls::TlsStream<TcpStream>);

impl std::io::Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl std::io::Write for Tls {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Conn for Tls {
    fn close(&mut self) {
        let _ = self.0.shutdown();
        let _ = self.0.get_ref().shutdown(Shutdown::Both);
    }
}

/// The stand-in hub over HTTPS with `pki`'s server certificate, publishing
/// `org/tiny`; returns it with the weights.
fn https_hub(pki: &Pki) -> (Server, Vec<u8>) {
    let acceptor = Arc::new(native_tls::TlsAcceptor::new(pki.server.clone()).expect("acceptor"));
    let server = Server::start_with("https", move |tcp| acceptor.accept(tcp).ok().map(Tls));
    let weights = content(40_000, 51);
    server.publish_hf_repo(
        "org/tiny",
        COMMIT,
        &[
            ("config.json", br#"{"model_type": "qwen2"}"#, false),
            ("model.safetensors", &weights, true),
            ("tokenizer.json", b"{}", false),
        ],
        &[],
    );
    (server, weights)
}

fn pull(server: &Server, cache: &Path) -> Result<ModelFiles, tarjoman_registry::Error> {
    resolve(hub_config(server, cache, false), "org/tiny")
}

/// OpenSSL's words for a chain that ends in a CA it does not trust.
fn is_unknown_issuer(text: &str) -> bool {
    text.contains("certificate verify failed")
        && text.contains("unable to get local issuer certificate")
}

#[test]
fn https_trusts_a_ca_only_the_platform_store_holds() {
    let _env = env_lock();
    let _restore = EnvVars::new(&["SSL_CERT_FILE", "SSL_CERT_DIR"]);
    // native-tls probes the system store's locations once per process;
    // make that happen before the variables change, so that the store it
    // remembers is the system's (which lacks both CAs made here).
    drop(native_tls::TlsConnector::new().expect("TLS connector"));
    let pki = Pki::new("tarjoman stand-in hub CA");
    let other = Pki::new("some other CA");
    let (server, weights) = https_hub(&pki);
    let dir = tempfile::tempdir().expect("tempdir");
    let trusted = dir.path().join("trusted.pem");
    let untrusted = dir.path().join("untrusted.pem");
    fs::write(&trusted, &pki.ca_pem).expect("write");
    fs::write(&untrusted, &other.ca_pem).expect("write");
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    std::env::set_var("SSL_CERT_DIR", &empty);

    std::env::set_var("SSL_CERT_FILE", &trusted);
    let cache = tempfile::tempdir().expect("tempdir");
    let files = pull(&server, cache.path()).expect("pull over HTTPS");
    assert_eq!(fs::read(&files.weights[0]).expect("weights"), weights);

    std::env::set_var("SSL_CERT_FILE", &untrusted);
    let cache = tempfile::tempdir().expect("tempdir");
    let err = chain(&pull(&server, cache.path()).unwrap_err());
    assert!(is_unknown_issuer(&err), "{err}");
    assert!(
        !cache.path().join("models--org--tiny/snapshots").exists(),
        "nothing is cached"
    );
}

/// A CA in the system store (`/usr/local/share/ca-certificates`), removed
/// again on drop.
struct SystemCa(std::path::PathBuf);

impl SystemCa {
    fn install(pem: &[u8]) -> SystemCa {
        let path = Path::new("/usr/local/share/ca-certificates/tarjoman-stand-in-hub-test.crt");
        fs::write(path, pem).expect("write the CA (needs root)");
        let ca = SystemCa(path.to_path_buf());
        update_ca_certificates(&[]);
        ca
    }
}

impl Drop for SystemCa {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
        update_ca_certificates(&["--fresh"]);
    }
}

fn update_ca_certificates(args: &[&str]) {
    let status = Command::new("update-ca-certificates")
        .args(args)
        .status()
        .expect("run update-ca-certificates");
    assert!(
        status.success(),
        "update-ca-certificates {args:?}: {status}"
    );
}

#[test]
#[ignore = "needs root: installs a CA in the system store with update-ca-certificates, then removes it"]
fn https_trusts_a_ca_installed_in_the_system_store() {
    let _env = env_lock();
    let _restore = EnvVars::new(&["SSL_CERT_FILE", "SSL_CERT_DIR"]);
    // The system store itself, not a file named in the environment.
    std::env::remove_var("SSL_CERT_FILE");
    std::env::remove_var("SSL_CERT_DIR");
    let pki = Pki::new("tarjoman stand-in hub CA (system store)");
    let (server, weights) = https_hub(&pki);

    let installed = SystemCa::install(&pki.ca_pem);
    let cache = tempfile::tempdir().expect("tempdir");
    let files = pull(&server, cache.path()).expect("pull over HTTPS");
    assert_eq!(fs::read(&files.weights[0]).expect("weights"), weights);

    drop(installed);
    let cache = tempfile::tempdir().expect("tempdir");
    let err = chain(&pull(&server, cache.path()).unwrap_err());
    assert!(is_unknown_issuer(&err), "{err}");
}
