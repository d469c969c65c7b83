//! Finding the user a photo belongs to from its key.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::request::Call;
use super::{GraphClient, GraphError};

/// Users found are reused for this long (one reconcile run or a burst of uploads).
pub(super) const CACHE_TTL: Duration = Duration::from_secs(600);

/// "Nobody has this key" is reused only this long — and never past the run
/// (Reconcile forgets every lookup when it starts): a new hire's account may
/// appear any minute, and a remembered miss would fail their photo.
pub(super) const NOT_FOUND_TTL: Duration = Duration::from_secs(60);

/// Properties read for every user.
const SELECT: &str = "id,userPrincipalName,mail,employeeId,mailNickname,accountEnabled,displayName";

/// Characters left as they are in a path segment (RFC 3986 unreserved plus `@`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Which user attribute a photo's key is compared with (`PHOTOSYNC_MATCH_BY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MatchBy {
    /// `alice@contoso.com.jpg`.
    #[default]
    UserPrincipalName,
    /// The primary SMTP address.
    Mail,
    /// HR's employee id (`12345.jpg`).
    EmployeeId,
    /// The mail alias (`alice.jpg`).
    MailNickname,
    /// The Entra object id.
    Id,
}

impl MatchBy {
    /// The Graph property name (also the setting's value).
    pub fn attribute(self) -> &'static str {
        match self {
            Self::UserPrincipalName => "userPrincipalName",
            Self::Mail => "mail",
            Self::EmployeeId => "employeeId",
            Self::MailNickname => "mailNickname",
            Self::Id => "id",
        }
    }

    /// Parses a setting value, case-insensitively.
    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::UserPrincipalName,
            Self::Mail,
            Self::EmployeeId,
            Self::MailNickname,
            Self::Id,
        ]
        .into_iter()
        .find(|m| m.attribute().eq_ignore_ascii_case(value.trim()))
    }
}

/// A matched user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Entra object id; photo calls use it.
    pub id: String,
    /// Sign-in name; thumbnails are filed under it.
    pub user_principal_name: String,
    /// Primary SMTP address, if any.
    #[serde(default)]
    pub mail: Option<String>,
    /// HR employee id, if any.
    #[serde(default)]
    pub employee_id: Option<String>,
    /// Whether the account can sign in; disabled users are still matched, and reported.
    #[serde(default = "enabled")]
    pub account_enabled: bool,
    /// Display name, for reports.
    #[serde(default)]
    pub display_name: Option<String>,
}

fn enabled() -> bool {
    true
}

#[derive(Deserialize)]
struct UserList {
    value: Vec<User>,
}

/// Cached outcome of a lookup: a user, or "nobody" (ambiguity is recomputed).
#[derive(Clone)]
pub(super) struct CachedLookup {
    pub at: Instant,
    pub user: Option<User>,
}

/// `o'brien` → `o''brien`: OData string literal quoting.
pub(super) fn odata_quote(key: &str) -> String {
    key.replace('\'', "''")
}

impl GraphClient {
    /// Finds the one user whose configured attribute equals `key`.
    pub async fn find_user(&self, key: &str) -> Result<User, GraphError> {
        let key = key.trim().to_lowercase();
        let match_by = self.options.match_by;
        if let Some(hit) = self.cached_user(&key).await {
            return hit.ok_or_else(|| GraphError::UserNotFound {
                attribute: match_by.attribute(),
                key: key.clone(),
            });
        }
        let result = match match_by {
            MatchBy::UserPrincipalName | MatchBy::Id => self.user_by_path(&key).await,
            _ => self.user_by_filter(match_by, &key).await,
        };
        match &result {
            Ok(user) => self.remember(&key, Some(user.clone())).await,
            Err(GraphError::UserNotFound { .. }) => self.remember(&key, None).await,
            Err(_) => {}
        }
        result
    }

    /// Forgets every lookup (a new run starts from the directory as it is now).
    pub async fn forget_users(&self) {
        self.users.lock().await.clear();
    }

    async fn cached_user(&self, key: &str) -> Option<Option<User>> {
        let cache = self.users.lock().await;
        cache
            .get(key)
            .filter(|c| {
                let ttl = if c.user.is_some() {
                    CACHE_TTL
                } else {
                    NOT_FOUND_TTL
                };
                c.at.elapsed() < ttl
            })
            .map(|c| c.user.clone())
    }

    async fn remember(&self, key: &str, user: Option<User>) {
        self.users.lock().await.insert(
            key.to_owned(),
            CachedLookup {
                at: Instant::now(),
                user,
            },
        );
    }

    async fn user_by_path(&self, key: &str) -> Result<User, GraphError> {
        let reply = self
            .call(Call {
                method: Method::GET,
                path: format!("/v1.0/users/{}", utf8_percent_encode(key, SEGMENT)),
                query: vec![("$select", SELECT.to_owned())],
                body: None,
                permission: "User.Read.All",
                photo_of: None,
            })
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Err(GraphError::UserNotFound {
                attribute: self.options.match_by.attribute(),
                key: key.to_owned(),
            });
        }
        serde_json::from_slice(&reply.body).map_err(|e| GraphError::Unavailable {
            detail: format!("unreadable user: {e}"),
        })
    }

    async fn user_by_filter(&self, match_by: MatchBy, key: &str) -> Result<User, GraphError> {
        let attribute = match_by.attribute();
        let reply = self
            .call(Call {
                method: Method::GET,
                path: "/v1.0/users".to_owned(),
                query: vec![
                    ("$filter", format!("{attribute} eq '{}'", odata_quote(key))),
                    ("$select", SELECT.to_owned()),
                    // Two are enough to know it is ambiguous.
                    ("$top", "5".to_owned()),
                ],
                // No `ConsistencyLevel: eventual` / `$count`: Graph's user
                // reference lists default `$filter` (`eq`) support for
                // employeeId, mail and mailNickname
                // (learn.microsoft.com/graph/api/resources/user), and the
                // eventual index lags behind writes, so a new hire would come
                // back "not found" (learn.microsoft.com/graph/aad-advanced-queries).
                body: None,
                permission: "User.Read.All",
                photo_of: None,
            })
            .await?;
        let list: UserList =
            serde_json::from_slice(&reply.body).map_err(|e| GraphError::Unavailable {
                detail: format!("unreadable user list: {e}"),
            })?;
        match list.value.len() {
            0 => Err(GraphError::UserNotFound {
                attribute,
                key: key.to_owned(),
            }),
            1 => Ok(list.value.into_iter().next().expect("one")),
            count => Err(GraphError::AmbiguousUser {
                attribute,
                key: key.to_owned(),
                count,
                candidates: list
                    .value
                    .iter()
                    .map(|u| u.user_principal_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// Encodes a user id for a path segment.
pub(super) fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_by_names_are_the_graph_properties() {
        assert_eq!(MatchBy::parse("employeeid"), Some(MatchBy::EmployeeId));
        assert_eq!(
            MatchBy::parse(" userPrincipalName "),
            Some(MatchBy::UserPrincipalName)
        );
        assert_eq!(MatchBy::parse("upn"), None);
    }

    #[test]
    fn quotes_and_path_characters_are_escaped() {
        assert_eq!(odata_quote("o'brien@contoso.com"), "o''brien@contoso.com");
        assert_eq!(segment("o'brien@contoso.com"), "o%27brien@contoso.com");
        assert_eq!(segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
    }
}
