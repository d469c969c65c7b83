//! Listing an Azure container ourselves, so every blob name Azure allows
//! comes through.
//!
//! `object_store` turns each listed name into a `Path` and fails the whole
//! page when one name is not a valid `Path` (`a//b.jpg`, `./x.jpg`,
//! `a/../b.jpg`: object_store 0.14.2 `src/azure/client.rs`,
//! `impl TryFrom<Blob> for ObjectMeta` → `Path::parse(value.name)?`), so one
//! odd upload would stop every later listing. This calls the List Blobs REST
//! operation (<https://learn.microsoft.com/en-us/rest/api/storageservices/list-blobs>)
//! with the credentials `object_store` already holds and parses each name
//! itself; deciding which names photosync can use is the caller's job.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt};
use object_store::azure::{AzureAuthorizer, AzureCredential, MicrosoftAzure};
use object_store::client::HttpRequestBody;
use serde::Deserialize;
use url::Url;

use super::{BlobInfo, ETag, StoreError};
use crate::resilience::{Next, RetryPolicy};

/// Names per page: the service's maximum.
const PAGE: &str = "5000";
/// One page must not hang a run forever.
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Lists one container through the REST API.
#[derive(Clone)]
pub(super) struct AzureLister {
    /// The configured store: its credential provider signs our requests.
    store: Arc<MicrosoftAzure>,
    /// `https://acct.blob.core.windows.net/container` (Azurite: with the account in the path).
    container_url: Url,
    /// Storage account name, for Shared Key signatures.
    account: String,
    /// Plain HTTP client with connect and total timeouts.
    http: reqwest::Client,
}

impl AzureLister {
    pub(super) fn new(store: Arc<MicrosoftAzure>, container_url: Url, account: String) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(PAGE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a default TLS backend is available");
        Self {
            store,
            container_url,
            account,
            http,
        }
    }

    /// Every blob under `prefix`, page by page.
    pub(super) fn list(
        &self,
        prefix: Option<String>,
    ) -> BoxStream<'static, Result<BlobInfo, StoreError>> {
        let lister = self.clone();
        // State: the next marker; `None` once the last page was read.
        futures::stream::try_unfold(Some(String::new()), move |marker| {
            let lister = lister.clone();
            let prefix = prefix.clone();
            async move {
                let Some(marker) = marker else {
                    return Ok(None);
                };
                let page = lister.page_with_retries(prefix.as_deref(), &marker).await?;
                let next = page.next_marker.filter(|m| !m.is_empty());
                let blobs: Vec<Result<BlobInfo, StoreError>> = page
                    .blobs
                    .blobs
                    .into_iter()
                    .filter(|b| b.properties.resource_type.as_deref() != Some("directory"))
                    .map(|b| Ok(b.into_info()))
                    .collect();
                Ok(Some((futures::stream::iter(blobs), next)))
            }
        })
        .map(|page: Result<_, StoreError>| match page {
            Ok(blobs) => blobs.left_stream(),
            Err(e) => futures::stream::once(async { Err(e) }).right_stream(),
        })
        .flatten()
        .boxed()
    }

    /// One page, retried on what a passing outage looks like (no connection,
    /// a cut answer, 5xx, throttling). Azure's storage clients retry these with
    /// exponential backoff by default
    /// (<https://learn.microsoft.com/azure/storage/blobs/storage-retry-policy>),
    /// as `object_store` does for its own requests; without this, one busy
    /// moment of the service would fail a whole Reconcile run.
    async fn page_with_retries(
        &self,
        prefix: Option<&str>,
        marker: &str,
    ) -> Result<ListPage, StoreError> {
        let policy = RetryPolicy {
            max_attempts: 4,
            max_wait: Duration::from_secs(30),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        };
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.page(prefix, marker).await {
                Err(e @ StoreError::Unavailable { .. }) => match policy.next(attempt, waited, None)
                {
                    Next::RetryAfter(delay) => {
                        tracing::debug!(attempt, "List Blobs failed, retrying: {e}");
                        tokio::time::sleep(delay).await;
                        waited += delay;
                    }
                    Next::GiveUp => return Err(e),
                },
                other => return other,
            }
        }
    }

    async fn page(&self, prefix: Option<&str>, marker: &str) -> Result<ListPage, StoreError> {
        let listing = "(listing)";
        let mut url = self.container_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("restype", "container");
            query.append_pair("comp", "list");
            query.append_pair("maxresults", PAGE);
            if let Some(prefix) = prefix {
                query.append_pair("prefix", prefix);
            }
            if !marker.is_empty() {
                query.append_pair("marker", marker);
            }
        }
        let credential: Arc<AzureCredential> = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(|e| StoreError::from_object_store(listing, e))?;
        let mut request = http::Request::get(url.as_str())
            .body(HttpRequestBody::empty())
            .map_err(|e| StoreError::Unavailable {
                name: listing.to_owned(),
                source: anyhow::Error::new(e).context("cannot build the List Blobs request"),
            })?;
        AzureAuthorizer::new(&credential, &self.account)
            .try_authorize(&mut request)
            .map_err(|e| StoreError::from_object_store(listing, e))?;
        let signed =
            Url::parse(&request.uri().to_string()).map_err(|e| StoreError::Unavailable {
                name: listing.to_owned(),
                source: anyhow::Error::new(e),
            })?;
        let response = self
            .http
            .get(signed)
            .headers(request.headers().clone())
            .send()
            .await
            .map_err(|e| StoreError::Unavailable {
                name: listing.to_owned(),
                source: anyhow::Error::new(e.without_url())
                    .context("cannot reach the blob service"),
            })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| StoreError::Unavailable {
            name: listing.to_owned(),
            source: anyhow::Error::new(e.without_url()).context("the listing was cut short"),
        })?;
        if !status.is_success() {
            return Err(listing_error(status, &body, &self.container_url));
        }
        quick_xml::de::from_str(&body).map_err(|e| StoreError::Unavailable {
            name: listing.to_owned(),
            source: anyhow::anyhow!("unreadable List Blobs answer: {e}"),
        })
    }
}

/// A failed List Blobs call as a classified error; the body's `<Code>` names why.
fn listing_error(status: reqwest::StatusCode, body: &str, container: &Url) -> StoreError {
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or("no error code", |(code, _)| code);
    let name = container
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("(container)")
        .to_owned();
    match status.as_u16() {
        404 => StoreError::Configuration {
            message: format!(
                "container `{name}` does not exist ({code}): create it (`photosync init`) or fix the container setting"
            ),
        },
        401 | 403 => StoreError::Configuration {
            message: format!(
                "storage refused to list container `{name}` (HTTP {status}, {code}): check the identity's role on the storage account"
            ),
        },
        _ => StoreError::Unavailable {
            name,
            source: anyhow::anyhow!("List Blobs answered HTTP {status} ({code})"),
        },
    }
}

/// `<EnumerationResults>`: the parts photosync reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPage {
    #[serde(default)]
    next_marker: Option<String>,
    #[serde(default)]
    blobs: Blobs,
}

#[derive(Debug, Default, Deserialize)]
struct Blobs {
    #[serde(rename = "Blob", default)]
    blobs: Vec<ListedBlob>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedBlob {
    name: BlobName,
    properties: ListedProperties,
}

/// `<Name>` or, for names with characters XML cannot carry,
/// `<Name Encoded="true">` with the name percent-encoded (List Blobs,
/// "Response body", version 2020-10-02 and later).
#[derive(Debug, Deserialize)]
struct BlobName {
    #[serde(rename = "@Encoded", default)]
    encoded: Option<String>,
    #[serde(rename = "$text", default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct ListedProperties {
    #[serde(rename = "Last-Modified")]
    last_modified: String,
    #[serde(rename = "Content-Length", default)]
    content_length: u64,
    #[serde(rename = "Etag", default)]
    etag: Option<String>,
    #[serde(rename = "ResourceType", default)]
    resource_type: Option<String>,
}

impl ListedBlob {
    fn into_info(self) -> BlobInfo {
        let name = if self
            .name
            .encoded
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("true"))
        {
            percent_encoding::percent_decode_str(&self.name.text)
                .decode_utf8_lossy()
                .into_owned()
        } else {
            self.name.text
        };
        BlobInfo {
            name,
            size: self.properties.content_length,
            etag: self.properties.etag.as_deref().and_then(ETag::new),
            // RFC 1123, as every Blob service date; an unreadable one sorts first.
            last_modified: DateTime::parse_from_rfc2822(&self.properties.last_modified)
                .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response body of the List Blobs documentation, cut to the fields
    /// read here, with the names photosync must survive.
    const PAGE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="photos">
  <MaxResults>5000</MaxResults>
  <Blobs>
    <Blob><Name>hr/alice@contoso.com.jpg</Name><Properties><Creation-Time>Fri, 20 Nov 2026 10:26:34 GMT</Creation-Time><Last-Modified>Fri, 20 Nov 2026 10:26:34 GMT</Last-Modified><Etag>0x8DA6E28262505DD</Etag><Content-Length>48211</Content-Length><Content-Type>image/jpeg</Content-Type><BlobType>BlockBlob</BlobType></Properties><Metadata /></Blob>
    <Blob><Name>odd//double@contoso.com.jpg</Name><Properties><Last-Modified>Fri, 20 Nov 2026 10:27:00 GMT</Last-Modified><Etag>0x8DA6E28262505DE</Etag><Content-Length>10</Content-Length></Properties></Blob>
    <Blob><Name Encoded="true">bad%EF%BF%BEname.jpg</Name><Properties><Last-Modified>Fri, 20 Nov 2026 10:28:00 GMT</Last-Modified><Content-Length>1</Content-Length></Properties></Blob>
    <Blob><Name>=HYPERLINK(&quot;http://x&quot;)@contoso.com.jpg</Name><Properties><Last-Modified>Fri, 20 Nov 2026 10:28:00 GMT</Last-Modified><Content-Length>1</Content-Length></Properties></Blob>
  </Blobs>
  <NextMarker>2!80!MDAw</NextMarker>
</EnumerationResults>"#;

    #[test]
    fn every_name_of_a_page_comes_through() {
        let page: ListPage = quick_xml::de::from_str(PAGE).unwrap();
        assert_eq!(page.next_marker.as_deref(), Some("2!80!MDAw"));
        let infos: Vec<BlobInfo> = page
            .blobs
            .blobs
            .into_iter()
            .map(|b| b.into_info())
            .collect();
        let names: Vec<&str> = infos.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hr/alice@contoso.com.jpg",
                "odd//double@contoso.com.jpg",
                "bad\u{fffe}name.jpg",
                "=HYPERLINK(\"http://x\")@contoso.com.jpg"
            ]
        );
        assert_eq!(infos[0].size, 48211);
        assert_eq!(
            infos[0].etag.as_ref().unwrap().as_str(),
            "0x8DA6E28262505DD"
        );
        assert_eq!(
            infos[0].last_modified.to_rfc3339(),
            "2026-11-20T10:26:34+00:00"
        );
        assert!(infos[2].etag.is_none());
    }

    #[test]
    fn an_empty_container_has_no_blobs_and_no_marker() {
        let page: ListPage = quick_xml::de::from_str(
            r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="photos"><Blobs /><NextMarker /></EnumerationResults>"#,
        )
        .unwrap();
        assert!(page.blobs.blobs.is_empty());
        assert!(page.next_marker.is_none_or(|m| m.is_empty()));
    }
}
