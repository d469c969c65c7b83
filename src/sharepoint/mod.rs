//! The SharePoint Online target — optional and legacy. SharePoint kept its own
//! copy of each profile photo (three JPEGs in the My Site host's pictures
//! library plus profile properties) and refreshed it from Exchange only when
//! a user viewed their own profile; writing it directly skipped the wait.
//! Since message center MC653734 (rollout Oct 2023 – Jun 2024) SharePoint
//! shows the photo from Microsoft Graph and disables local uploads to the My
//! Site host, so on such tenants this target changes nothing visible: it is
//! off unless `PHOTOSYNC_SHAREPOINT_MYSITE_URL` is set.
//!
//! App-only SharePoint access needs a certificate or a managed identity:
//! SharePoint refuses tokens obtained with a client secret. Each host (My Site
//! for files, admin for profile properties) gets its own token, because
//! SharePoint checks the audience against the host it receives
//! (`AudienceUriValidationFailedException`; PnP asks `https://{host}/.default`
//! per host).

mod call;
mod error;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use call::Post;
pub use error::SharePointError;

use crate::graph::GraphSettings;
use crate::identity::{Credentials, TokenProvider};
use crate::resilience::RetryPolicy;

/// The pictures folder on English My Site hosts (the name is localised).
pub const DEFAULT_LIBRARY_PATH: &str = "/User Photos/Profile Pictures";

/// Seconds from 0001-01-01 (.NET's `DateTime` epoch, which
/// `SPS-PictureTimestamp` counts in; real values look like `63656652524`) to
/// 1970-01-01.
const DOTNET_EPOCH_OFFSET: i64 = 62_135_596_800;

/// How long a configuration problem (access denied, no pictures folder) is
/// answered from memory before a host is asked again: one probe per period,
/// not one refusal per user.
const CONFIGURATION_PROBLEM_TTL: Duration = Duration::from_secs(600);

/// SharePoint settings, as read by `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePointSettings {
    /// My Site host (`PHOTOSYNC_SHAREPOINT_MYSITE_URL`), e.g. `https://contoso-my.sharepoint.com`:
    /// the pictures go there, with a token for this host.
    pub mysite_url: Url,
    /// Admin host (`PHOTOSYNC_SHAREPOINT_ADMIN_URL`), default the matching `-admin` host:
    /// profile properties are set there, with a token for that host.
    pub admin_url: Url,
    /// Server-relative pictures folder (`PHOTOSYNC_SHAREPOINT_LIBRARY_PATH`);
    /// localised, so a setting.
    pub library_path: String,
    /// Edge of the large picture (`PHOTOSYNC_SHAREPOINT_LARGE_SIZE`, default 200).
    pub large_size: u32,
    /// Pause between users (`PHOTOSYNC_SHAREPOINT_PACING_MS`, default PnP's
    /// 500 ms), so SharePoint does not treat a bulk run as abuse.
    pub pacing: Duration,
}

/// `o'brien@contoso.co.uk` → `o'brien_contoso_co_uk`, SharePoint's file-name form.
pub fn account_file_stem(upn: &str) -> String {
    upn.to_lowercase().replace(['@', '.'], "_")
}

/// The claims account name SharePoint's people manager expects.
pub fn claims_account(upn: &str) -> String {
    format!("i:0#.f|membership|{}", upn.to_lowercase())
}

/// `SPS-PictureTimestamp` for a Unix time: .NET-epoch seconds.
pub fn picture_timestamp(unix_seconds: i64) -> i64 {
    unix_seconds + DOTNET_EPOCH_OFFSET
}

/// The token resource of a host: its origin (`https://contoso-my.sharepoint.com`).
fn resource_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The three pictures SharePoint shows, smallest first.
#[derive(Debug, Clone)]
pub struct ProfilePictures {
    /// 48x48 (`_SThumb`).
    pub small: Bytes,
    /// 72x72 (`_MThumb`), the one `PictureURL` points at.
    pub medium: Bytes,
    /// `large_size` square (`_LThumb`).
    pub large: Bytes,
}

/// Writes profile pictures and properties; share one per process.
pub struct SharePointClient {
    /// Settings.
    settings: SharePointSettings,
    /// HTTP client (no redirects, bounded timeouts).
    http: reqwest::Client,
    /// Tokens, shared with Graph; one per host resource.
    tokens: Arc<TokenProvider>,
    /// Token resource of the My Site host.
    mysite_resource: String,
    /// Token resource of the admin host.
    admin_resource: String,
    /// Throttling and outage bounds.
    retry: RetryPolicy,
    /// One user's writes at a time, as PnP's uploader does: paced, and a
    /// refusal that applies to everyone is seen once before others start.
    writer: Semaphore,
    /// Earliest start of the next user's writes (pacing). Held only to read
    /// and set, never across an `.await`.
    next_user: Mutex<Instant>,
    /// A configuration problem seen recently, answered without asking again.
    problem: Mutex<Option<(Instant, SharePointError)>>,
}

impl std::fmt::Debug for SharePointClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharePointClient({})", self.settings.mysite_url)
    }
}

impl SharePointClient {
    /// A client when the target is configured and there are credentials
    /// (`None` otherwise: then everything runs dry), using `tokens` — the
    /// provider Graph uses too.
    pub fn new(
        settings: Option<&SharePointSettings>,
        graph: &GraphSettings,
        http: reqwest::Client,
        tokens: Option<Arc<TokenProvider>>,
    ) -> Result<Option<Self>, SharePointError> {
        let (Some(settings), Some(tokens)) = (settings, tokens) else {
            return Ok(None);
        };
        if matches!(tokens.credentials(), Credentials::ClientSecret { .. }) {
            return Err(SharePointError::NeedsCertificate);
        }
        Ok(Some(Self {
            mysite_resource: resource_of(&settings.mysite_url),
            admin_resource: resource_of(&settings.admin_url),
            settings: settings.clone(),
            http,
            tokens,
            retry: graph.retry.clone(),
            writer: Semaphore::new(1),
            next_user: Mutex::new(Instant::now()),
            problem: Mutex::new(None),
        }))
    }

    /// A token for each host, as `doctor` checks before the first upload
    /// (SharePoint itself is reached only by writes, which doctor never makes).
    pub async fn check_tokens(&self) -> Result<(), SharePointError> {
        self.tokens.token(&self.mysite_resource).await?;
        self.tokens.token(&self.admin_resource).await?;
        Ok(())
    }

    /// The picture sizes to render: small, medium, large.
    pub fn sizes(&self) -> [u32; 3] {
        [48, 72, self.settings.large_size]
    }

    /// Uploads the three pictures (overwriting) and points the profile at them.
    pub async fn set_pictures(
        &self,
        upn: &str,
        pictures: ProfilePictures,
    ) -> Result<(), SharePointError> {
        let _turn = self.writer.acquire().await.expect("never closed");
        if let Some(problem) = self.recent_problem() {
            return Err(problem);
        }
        let start = *self.next_user.lock().unwrap_or_else(|e| e.into_inner());
        tokio::time::sleep_until(start).await;
        let result = self.write(upn, pictures).await;
        *self.next_user.lock().unwrap_or_else(|e| e.into_inner()) =
            Instant::now() + self.settings.pacing;
        if let Err(e) = &result
            && e.is_configuration()
        {
            tracing::error!(code = %e.code(), "{e}");
            *self.problem.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((Instant::now(), e.clone()));
        }
        result
    }

    /// The configuration problem seen within [`CONFIGURATION_PROBLEM_TTL`], if any.
    fn recent_problem(&self) -> Option<SharePointError> {
        let mut problem = self.problem.lock().unwrap_or_else(|e| e.into_inner());
        match &*problem {
            Some((at, e)) if at.elapsed() < CONFIGURATION_PROBLEM_TTL => Some(e.clone()),
            Some(_) => {
                *problem = None;
                None
            }
            None => None,
        }
    }

    async fn write(&self, upn: &str, pictures: ProfilePictures) -> Result<(), SharePointError> {
        let stem = account_file_stem(upn);
        let mysite = base(&self.settings.mysite_url);
        let folder = &self.settings.library_path;
        for (suffix, bytes) in [
            ("SThumb", pictures.small),
            ("MThumb", pictures.medium),
            ("LThumb", pictures.large),
        ] {
            let file = format!("{stem}_{suffix}.jpg");
            let url = format!(
                "{mysite}/_api/web/GetFolderByServerRelativeUrl('{}')/Files/add(url='{}',overwrite=true)",
                odata(folder),
                odata(&file)
            );
            self.post(Post {
                resource: &self.mysite_resource,
                url,
                body: bytes,
                content_type: "image/jpeg",
                upn,
            })
            .await?;
        }
        let picture_url = format!(
            "{mysite}{}/{}_MThumb.jpg",
            percent_encoding::utf8_percent_encode(folder, PATH),
            percent_encoding::utf8_percent_encode(&stem, PATH)
        );
        let timestamp = picture_timestamp(chrono::Utc::now().timestamp()).to_string();
        let url = format!(
            "{}/_api/SP.UserProfiles.PeopleManager/SetSingleValueProfileProperty",
            base(&self.settings.admin_url)
        );
        for (name, value) in [
            ("PictureURL", picture_url.as_str()),
            ("SPS-PicturePlaceholderState", "0"),
            ("SPS-PictureExchangeSyncState", "0"),
            ("SPS-PictureTimestamp", timestamp.as_str()),
        ] {
            let body = serde_json::json!({
                "accountName": claims_account(upn),
                "propertyName": name,
                "propertyValue": value,
            });
            self.post(Post {
                resource: &self.admin_resource,
                url: url.clone(),
                body: Bytes::from(body.to_string()),
                content_type: "application/json;odata=verbose",
                upn,
            })
            .await?;
        }
        Ok(())
    }
}

fn base(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// Characters left as they are in a URL path (RFC 3986 unreserved, `/`, `'`).
const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b'\'');

/// An OData string literal's content, percent-encoded for the URL path:
/// quotes doubled, spaces and other specials escaped.
fn odata(text: &str) -> String {
    percent_encoding::utf8_percent_encode(&text.replace('\'', "''"), PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_and_literals() {
        assert_eq!(
            account_file_stem("O'Brien@Contoso.co.uk"),
            "o'brien_contoso_co_uk"
        );
        assert_eq!(
            claims_account("Alice@contoso.com"),
            "i:0#.f|membership|alice@contoso.com"
        );
        assert_eq!(
            odata("o'brien_contoso_co_uk_SThumb.jpg"),
            "o''brien_contoso_co_uk_SThumb.jpg"
        );
        assert_eq!(
            odata(DEFAULT_LIBRARY_PATH),
            "/User%20Photos/Profile%20Pictures"
        );
    }

    #[test]
    fn the_timestamp_counts_from_year_one() {
        // 63656652524, the shape of real values, is 2018-03-14T19:28:44Z.
        assert_eq!(picture_timestamp(1_521_055_724), 63_656_652_524);
        assert_eq!(picture_timestamp(0), 62_135_596_800);
    }

    #[test]
    fn each_host_is_its_own_resource() {
        let my = Url::parse("https://contoso-my.sharepoint.com/").unwrap();
        let admin = Url::parse("https://contoso-admin.sharepoint.com").unwrap();
        assert_eq!(resource_of(&my), "https://contoso-my.sharepoint.com");
        assert_eq!(resource_of(&admin), "https://contoso-admin.sharepoint.com");
        let local = Url::parse("http://127.0.0.1:7001/sites/x").unwrap();
        assert_eq!(resource_of(&local), "http://127.0.0.1:7001");
    }
}
