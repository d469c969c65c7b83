//! What the app may do in this tenant, checked up front: the Graph
//! application permissions its token carries and the tenant's photo update
//! policy. `doctor` prints both; Reconcile checks the grant once a run; every
//! photo write checks the policy once a process, so an on-premises tenant is
//! one clear error rather than a 403 per photo.

use reqwest::Method;
use serde::Deserialize;

use super::request::Call;
use super::{GraphClient, GraphError};
use crate::identity::claims::{self, Roles};

/// The application permissions photosync cannot work without: photo writes
/// (learn.microsoft.com/graph/api/profilephoto-update) and reading users to
/// match files (learn.microsoft.com/graph/api/user-get). `PeopleSettings.Read.All`
/// (the policy read) is optional: without it the policy check is skipped.
pub const REQUIRED_PERMISSIONS: [&str; 2] = ["ProfilePhoto.ReadWrite.All", "User.Read.All"];

/// The tenant's `photoUpdateSettings.source`
/// (`GET /beta/admin/people/photoUpdateSettings`, see the reference doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoPolicy {
    /// Cloud updates allowed (also the answer when no source is set).
    Cloud,
    /// Photos are managed on-premises: every cloud write fails.
    OnPremises,
    /// Not readable (no `PeopleSettings.Read.All`, or an error): why.
    Unknown(String),
}

impl GraphClient {
    /// The application permissions in the app's current Graph token.
    pub async fn roles(&self) -> Result<Roles, GraphError> {
        let token = self.tokens.token(&self.options.resource).await?;
        Ok(claims::roles(&token))
    }

    /// Which of [`REQUIRED_PERMISSIONS`] the current token lacks; `None` when
    /// the token does not say (not a readable JWT).
    pub async fn missing_permissions(&self) -> Result<Option<Vec<&'static str>>, GraphError> {
        Ok(self.roles().await?.missing(&REQUIRED_PERMISSIONS))
    }

    /// Reads the tenant's photo update policy.
    pub async fn photo_policy(&self) -> PhotoPolicy {
        #[derive(Deserialize)]
        struct Settings {
            source: Option<String>,
        }
        let reply = self
            .call(Call {
                method: Method::GET,
                path: "/beta/admin/people/photoUpdateSettings".to_owned(),
                query: Vec::new(),
                body: None,
                permission: "PeopleSettings.Read.All",
                photo_of: None,
            })
            .await;
        match reply {
            Ok(reply) if reply.status.is_success() => {
                match serde_json::from_slice::<Settings>(&reply.body) {
                    Ok(Settings { source: Some(s) }) if s.eq_ignore_ascii_case("onPremises") => {
                        PhotoPolicy::OnPremises
                    }
                    Ok(_) => PhotoPolicy::Cloud,
                    Err(e) => PhotoPolicy::Unknown(format!("unreadable answer: {e}")),
                }
            }
            Ok(reply) => PhotoPolicy::Unknown(format!("HTTP {}", reply.status)),
            Err(e) => PhotoPolicy::Unknown(e.to_string()),
        }
    }

    /// Refuses every write, once the tenant policy says photos are managed
    /// on-premises. Without `PeopleSettings.Read.All` (403) or on any other
    /// failure the check is skipped, not fatal.
    pub(super) async fn check_policy(&self) -> Result<(), GraphError> {
        let verdict = self
            .policy
            .get_or_init(|| async {
                match self.photo_policy().await {
                    PhotoPolicy::OnPremises => {
                        tracing::error!("{}", GraphError::PhotoUpdatesDisabled);
                        Err(())
                    }
                    PhotoPolicy::Cloud => Ok(()),
                    PhotoPolicy::Unknown(why) => {
                        tracing::info!("photo update policy not readable; assuming cloud: {why}");
                        Ok(())
                    }
                }
            })
            .await;
        verdict.map_err(|()| GraphError::PhotoUpdatesDisabled)
    }
}

/// Microsoft Graph's own app id: the same in every tenant.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The Azure CLI commands that grant `missing` to the app: the app role
/// assignments of docs/deployment.md ("Microsoft Graph permissions for the
/// managed identity"), with the principal filled in as far as photosync
/// knows it. Run by an Entra administrator (Privileged Role Administrator).
pub fn grant_hint(credentials: &crate::identity::Credentials, missing: &[&str]) -> String {
    use crate::identity::Credentials;
    let (principal, wait) = match credentials {
        Credentials::ManagedIdentity { client_id: Some(id), .. } => (
            format!("$(az ad sp show --id {id} --query id -o tsv)"),
            true,
        ),
        Credentials::ManagedIdentity { client_id: None, .. } => (
            "$(az functionapp identity show -g <resource group> -n <function app> --query principalId -o tsv)"
                .to_owned(),
            true,
        ),
        Credentials::ClientSecret { client_id, .. } | Credentials::Certificate { client_id, .. } => (
            format!("$(az ad sp show --id {client_id} --query id -o tsv)"),
            false,
        ),
        Credentials::AzureCli { .. } => ("<the app's service principal object id>".to_owned(), false),
    };
    let mut hint = format!(
        "an Entra administrator grants it (Azure CLI):\n\
         principal={principal}\n\
         graph=$(az ad sp show --id {GRAPH_APP_ID} --query id -o tsv)\n\
         for permission in {}; do\n\
         \x20 role=$(az ad sp show --id {GRAPH_APP_ID} --query \"appRoles[?value=='$permission' && contains(allowedMemberTypes, 'Application')].id | [0]\" -o tsv)\n\
         \x20 az rest --method POST --uri \"https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments\" \\\n\
         \x20   --headers Content-Type=application/json --body \"{{\\\"principalId\\\":\\\"$principal\\\",\\\"resourceId\\\":\\\"$graph\\\",\\\"appRoleId\\\":\\\"$role\\\"}}\"\n\
         done",
        missing.join(" ")
    );
    hint.push_str(if wait {
        "\nthen restart the app (managed-identity tokens are cached up to 24 h); \
         photos that failed with permission-denied are retried by the next Reconcile"
    } else {
        "\nthe next token carries the grant; photos that failed with permission-denied \
         are retried by the next Reconcile"
    });
    hint
}
