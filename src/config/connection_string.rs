//! Azure Storage connection strings, parsed the way the Functions host reads them.
//!
//! Errors name the offending *key* and never echo a value: a connection string
//! carries the account key, and startup errors end up in Application Insights.

use secrecy::SecretString;
use url::Url;

/// Azurite's well-known development account (public, documented by Microsoft).
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development key (public, documented by Microsoft).
pub const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Where `UseDevelopmentStorage=true` puts the blob service.
pub const EMULATOR_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// How requests to the blob service are authorised.
#[derive(Debug, Clone)]
pub enum BlobAuth {
    /// Shared key: the account name is on [`BlobConnection`], the base64 key here.
    AccountKey(SecretString),
    /// A shared access signature query string (without the leading `?`).
    Sas(SecretString),
}

impl BlobAuth {
    /// How requests are signed, for messages (never the secret).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AccountKey(_) => "account key",
            Self::Sas(_) => "SAS token",
        }
    }
}

/// A parsed connection string: where the blob service is and how to sign requests.
#[derive(Debug, Clone)]
pub struct BlobConnection {
    /// Storage account name; needed for shared-key signing.
    pub account: String,
    /// Blob service base URL, e.g. `https://acct.blob.core.windows.net` or
    /// Azurite's `http://127.0.0.1:10000/devstoreaccount1`.
    pub blob_endpoint: Url,
    /// Credentials; `None` is impossible for a valid string, kept explicit for clarity.
    pub auth: BlobAuth,
    /// True for `UseDevelopmentStorage=true`: lets callers log "Azurite" rather than a URL.
    pub is_emulator: bool,
}

/// Why a connection string was refused. Carries keys and positions, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    #[error("the connection string is empty")]
    Empty,
    #[error("part {position} is not KEY=VALUE")]
    NotKeyValue { position: usize },
    #[error("unknown key `{key}`")]
    UnknownKey { key: String },
    #[error("part {position} has an unknown key")]
    UnknownPart { position: usize },
    #[error("key `{key}` appears twice")]
    Duplicate { key: String },
    #[error("`{key}` has an invalid value ({reason})")]
    InvalidValue {
        key: &'static str,
        reason: &'static str,
    },
    #[error("`{key}` is required")]
    Missing { key: &'static str },
}

/// Keys Azure tools write into connection strings; accepted, some ignored (queues, tables).
const KNOWN_KEYS: [&str; 11] = [
    "UseDevelopmentStorage",
    "DevelopmentStorageProxyUri",
    "DefaultEndpointsProtocol",
    "AccountName",
    "AccountKey",
    "BlobEndpoint",
    "QueueEndpoint",
    "TableEndpoint",
    "FileEndpoint",
    "EndpointSuffix",
    "SharedAccessSignature",
];

/// Parses a connection string such as
/// `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k;EndpointSuffix=core.windows.net`.
pub fn parse(input: &str) -> Result<BlobConnection, ConnectionStringError> {
    let pairs = split_pairs(input)?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };

    if let Some(dev) = get("UseDevelopmentStorage") {
        if !dev.eq_ignore_ascii_case("true") {
            return Err(ConnectionStringError::InvalidValue {
                key: "UseDevelopmentStorage",
                reason: "only `true` is meaningful",
            });
        }
        let endpoint = match get("DevelopmentStorageProxyUri") {
            Some(proxy) => format!("{}:10000/{EMULATOR_ACCOUNT}", proxy.trim_end_matches('/')),
            None => EMULATOR_BLOB_ENDPOINT.to_owned(),
        };
        return Ok(BlobConnection {
            account: EMULATOR_ACCOUNT.to_owned(),
            blob_endpoint: parse_url("DevelopmentStorageProxyUri", &endpoint)?,
            auth: BlobAuth::AccountKey(SecretString::from(EMULATOR_KEY)),
            is_emulator: true,
        });
    }

    let auth = match (get("AccountKey"), get("SharedAccessSignature")) {
        (Some(key), _) => {
            use base64::Engine as _;
            if base64::engine::general_purpose::STANDARD
                .decode(key)
                .is_err()
            {
                return Err(ConnectionStringError::InvalidValue {
                    key: "AccountKey",
                    reason: "not base64",
                });
            }
            BlobAuth::AccountKey(SecretString::from(key))
        }
        (None, Some(sas)) => BlobAuth::Sas(SecretString::from(sas.trim_start_matches('?'))),
        (None, None) => {
            return Err(ConnectionStringError::Missing {
                key: "AccountKey or SharedAccessSignature",
            });
        }
    };

    let blob_endpoint = match get("BlobEndpoint") {
        Some(endpoint) => parse_url("BlobEndpoint", endpoint)?,
        None => {
            let account = get("AccountName").ok_or(ConnectionStringError::Missing {
                key: "AccountName (or BlobEndpoint)",
            })?;
            let protocol = get("DefaultEndpointsProtocol").unwrap_or("https");
            if !matches!(protocol, "http" | "https") {
                return Err(ConnectionStringError::InvalidValue {
                    key: "DefaultEndpointsProtocol",
                    reason: "must be http or https",
                });
            }
            let suffix = get("EndpointSuffix").unwrap_or("core.windows.net");
            parse_url(
                "EndpointSuffix",
                &format!("{protocol}://{account}.blob.{suffix}"),
            )?
        }
    };

    let account = match get("AccountName") {
        Some(name) => name.to_owned(),
        None => account_from_endpoint(&blob_endpoint)
            .ok_or(ConnectionStringError::Missing { key: "AccountName" })?,
    };
    if matches!(auth, BlobAuth::AccountKey(_)) && get("AccountName").is_none() {
        return Err(ConnectionStringError::Missing { key: "AccountName" });
    }
    if account.is_empty() || !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ConnectionStringError::InvalidValue {
            key: "AccountName",
            reason: "letters and digits only",
        });
    }

    Ok(BlobConnection {
        account,
        blob_endpoint,
        auth,
        is_emulator: false,
    })
}

/// Splits `k=v;k=v;` into pairs; values may contain `=` (base64 padding, SAS).
fn split_pairs(input: &str) -> Result<Vec<(String, String)>, ConnectionStringError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (index, part) in input.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (key, value) = part
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or(ConnectionStringError::NotKeyValue {
                position: index + 1,
            })?;
        let key = key.trim();
        let Some(canonical) = KNOWN_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) else {
            // A key pasted without `AccountKey=` splits at its base64 padding and
            // looks like a key name: only echo names that look like real ones.
            let looks_like_a_name = key.len() <= 32 && key.bytes().all(|b| b.is_ascii_alphabetic());
            return Err(if looks_like_a_name {
                ConnectionStringError::UnknownKey {
                    key: key.to_owned(),
                }
            } else {
                ConnectionStringError::UnknownPart {
                    position: index + 1,
                }
            });
        };
        if pairs.iter().any(|(k, _)| k == canonical) {
            return Err(ConnectionStringError::Duplicate {
                key: (*canonical).to_owned(),
            });
        }
        pairs.push(((*canonical).to_owned(), value.trim().to_owned()));
    }
    if pairs.is_empty() {
        return Err(ConnectionStringError::Empty);
    }
    Ok(pairs)
}

fn parse_url(key: &'static str, value: &str) -> Result<Url, ConnectionStringError> {
    let url = Url::parse(value).map_err(|_| ConnectionStringError::InvalidValue {
        key,
        reason: "not a URL",
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConnectionStringError::InvalidValue {
            key,
            reason: "must be an http(s) URL with a host",
        });
    }
    Ok(url)
}

/// `https://acct.blob.core.windows.net` → `acct`.
fn account_from_endpoint(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    let (first, rest) = host.split_once('.')?;
    rest.starts_with("blob.").then(|| first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const KEY: &str = "c2VjcmV0LWtleS1ieXRlcy1ub2JvZHktc2hvdWxkLXNlZQ==";

    fn key_of(conn: &BlobConnection) -> &str {
        match &conn.auth {
            BlobAuth::AccountKey(k) | BlobAuth::Sas(k) => k.expose_secret(),
        }
    }

    #[test]
    fn development_storage_is_azurite() {
        let conn = parse("UseDevelopmentStorage=true").unwrap();
        assert!(conn.is_emulator);
        assert_eq!(conn.account, EMULATOR_ACCOUNT);
        assert_eq!(conn.blob_endpoint.as_str(), EMULATOR_BLOB_ENDPOINT);
        assert_eq!(key_of(&conn), EMULATOR_KEY);
    }

    #[test]
    fn development_storage_proxy_uri_moves_the_host() {
        let conn =
            parse("UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://10.0.0.5").unwrap();
        assert_eq!(
            conn.blob_endpoint.as_str(),
            "http://10.0.0.5:10000/devstoreaccount1"
        );
    }

    #[test]
    fn account_key_with_default_suffix() {
        let conn = parse(&format!(
            "DefaultEndpointsProtocol=https;AccountName=contosophotos;AccountKey={KEY}"
        ))
        .unwrap();
        assert_eq!(conn.account, "contosophotos");
        assert_eq!(
            conn.blob_endpoint.as_str(),
            "https://contosophotos.blob.core.windows.net/"
        );
        assert_eq!(key_of(&conn), KEY);
        assert!(!conn.is_emulator);
    }

    #[test]
    fn endpoint_suffix_for_national_clouds() {
        let conn = parse(&format!(
            "AccountName=gov;AccountKey={KEY};EndpointSuffix=core.usgovcloudapi.net;"
        ))
        .unwrap();
        assert_eq!(
            conn.blob_endpoint.as_str(),
            "https://gov.blob.core.usgovcloudapi.net/"
        );
    }

    #[test]
    fn explicit_blob_endpoint_wins_and_other_services_are_ignored() {
        let conn = parse(&format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};\
             BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;\
             QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;\
             TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;FileEndpoint=http://x/"
        ))
        .unwrap();
        assert_eq!(
            conn.blob_endpoint.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
    }

    #[test]
    fn sas_with_blob_endpoint() {
        let conn = parse(
            "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=?sv=2022-11-02&sig=abc%3D",
        )
        .unwrap();
        assert_eq!(conn.account, "acct");
        assert!(matches!(conn.auth, BlobAuth::Sas(_)));
        assert_eq!(key_of(&conn), "sv=2022-11-02&sig=abc%3D");
    }

    #[test]
    fn keys_are_case_insensitive_and_whitespace_tolerant() {
        let conn = parse(&format!(" accountname = a1 ; ACCOUNTKEY={KEY} ")).unwrap();
        assert_eq!(conn.account, "a1");
    }

    /// Every refusal must say what is wrong without repeating the secret.
    #[test]
    fn bad_input_is_refused_without_leaking_the_key() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (" ; ;".into(), "empty"),
            (format!("AccountName=a;{KEY}"), "part 2"),
            (
                format!("AccountName=a;AcountKey={KEY}"),
                "unknown key `AcountKey`",
            ),
            (
                format!("AccountName=a;AccountKey={KEY};AccountKey={KEY}"),
                "appears twice",
            ),
            (
                "AccountName=a;AccountKey=not*base64!".into(),
                "`AccountKey` has an invalid value (not base64)",
            ),
            (
                "AccountName=a".into(),
                "AccountKey or SharedAccessSignature",
            ),
            (format!("AccountKey={KEY}"), "AccountName"),
            (
                format!("AccountName=a;AccountKey={KEY};BlobEndpoint=ftp://x"),
                "`BlobEndpoint`",
            ),
            (
                format!("AccountName=a;AccountKey={KEY};BlobEndpoint=not a url"),
                "not a URL",
            ),
            (
                format!("AccountName=a;AccountKey={KEY};DefaultEndpointsProtocol=gopher"),
                "http or https",
            ),
            (
                format!("AccountName=bad-name;AccountKey={KEY}"),
                "letters and digits",
            ),
            ("UseDevelopmentStorage=false".into(), "only `true`"),
            (
                "SharedAccessSignature=sv=1&sig=SECRETSIG".into(),
                "AccountName",
            ),
        ];
        for (input, expected) in cases {
            let message = parse(&input).unwrap_err().to_string();
            assert!(
                message.contains(expected),
                "{input:?}: {message:?} should mention {expected:?}"
            );
            assert!(!message.contains(KEY), "{message:?} leaks the key");
            assert!(!message.contains("SECRETSIG"), "{message:?} leaks the SAS");
            assert!(
                !message.contains("not*base64"),
                "{message:?} echoes a value"
            );
        }
    }
}
