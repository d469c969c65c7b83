//! Settings of the web page (`/api/photos`): who is trusted, who may do what,
//! and the limits of the upload endpoint.

use super::{Env, SettingsError};
use crate::graph::MatchBy;

/// How the handler learns who is signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebAuth {
    /// App Service Authentication (Easy Auth) signs people in and puts the
    /// principal into `X-MS-CLIENT-PRINCIPAL`; the header is trusted only when
    /// the platform says authentication is on (`WEBSITE_AUTH_ENABLED`).
    EasyAuth {
        /// `WEBSITE_AUTH_ENABLED` as the platform set it. Without it anybody
        /// could send the header, so every web request is refused.
        platform_enabled: bool,
    },
    /// `PHOTOSYNC_WEB_AUTH=development`: the header is trusted without the
    /// platform (a developer's laptop; refused when running in Azure).
    Development,
}

/// Everything the web page needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// Whether and why the principal header is trusted.
    pub auth: WebAuth,
    /// Employees without a role may upload their own photo (`PHOTOSYNC_SELF_SERVICE`).
    pub self_service: bool,
    /// Self-service uploads wait for an approver (`PHOTOSYNC_APPROVAL`).
    pub approval: bool,
    /// Entra group whose members are uploaders, besides the app role
    /// (`PHOTOSYNC_UPLOADER_GROUP`, an object id).
    pub uploader_group: Option<String>,
    /// Entra group whose members are approvers (`PHOTOSYNC_APPROVER_GROUP`).
    pub approver_group: Option<String>,
    /// Largest file one upload may carry (`PHOTOSYNC_WEB_MAX_UPLOAD_BYTES`);
    /// never above `PHOTOSYNC_MAX_BYTES`, which the pipeline enforces anyway.
    pub max_upload_bytes: u64,
    /// Uploads one person may make per hour (`PHOTOSYNC_WEB_UPLOADS_PER_HOUR`),
    /// per instance: a runaway script cannot fill the container.
    pub uploads_per_hour: u32,
    /// Origins besides the request's own host that may send state-changing
    /// requests (`PHOTOSYNC_WEB_ORIGINS`: custom domains in front of the app).
    pub extra_origins: Vec<String>,
    /// The attribute photo file names are matched by; self-service names the
    /// employee's photo after it, so it must be one the principal carries.
    pub match_by: MatchBy,
}

/// Default per-upload limit: far above any phone photo, far below the host's
/// 100 MB request limit.
const DEFAULT_MAX_UPLOAD: u64 = 20 * 1024 * 1024;

pub(super) fn web(
    env: &Env,
    match_by: MatchBy,
    max_bytes: u64,
) -> Result<WebSettings, SettingsError> {
    let auth = match env
        .get("PHOTOSYNC_WEB_AUTH")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("easyauth") => WebAuth::EasyAuth {
            platform_enabled: platform_auth_enabled(env.get("WEBSITE_AUTH_ENABLED")),
        },
        Some("development") => {
            // The platform sets these on every App Service / Functions instance.
            if let Some(name) = ["WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME"]
                .into_iter()
                .find(|n| env.get(n).is_some())
            {
                return Err(SettingsError::new(
                    "PHOTOSYNC_WEB_AUTH",
                    format!(
                        "`development` trusts any X-MS-CLIENT-PRINCIPAL header and is for a developer's \
                         machine only; this process runs in Azure ({name} is set): remove the setting \
                         and turn on App Service Authentication"
                    ),
                ));
            }
            WebAuth::Development
        }
        Some(other) => {
            return Err(SettingsError::new(
                "PHOTOSYNC_WEB_AUTH",
                format!("`{other}` must be `easyauth` (the default) or `development`"),
            ));
        }
    };
    let self_service = env.flag("PHOTOSYNC_SELF_SERVICE", false)?;
    let approval = env.flag("PHOTOSYNC_APPROVAL", false)?;
    if approval && !self_service {
        return Err(SettingsError::new(
            "PHOTOSYNC_APPROVAL",
            "approval applies to self-service uploads: set PHOTOSYNC_SELF_SERVICE=true as well, or remove it",
        ));
    }
    if self_service && !matches!(match_by, MatchBy::UserPrincipalName | MatchBy::Id) {
        return Err(SettingsError::new(
            "PHOTOSYNC_SELF_SERVICE",
            format!(
                "self-service names an employee's photo after their sign-in, which carries the \
                 userPrincipalName and the object id, not `{}`: set PHOTOSYNC_MATCH_BY to \
                 userPrincipalName or id, or turn self-service off",
                match_by.attribute()
            ),
        ));
    }
    let group = |name: &str| -> Result<Option<String>, SettingsError> {
        match env.get(name) {
            None => Ok(None),
            Some(raw) if is_guid(raw) => Ok(Some(raw.to_ascii_lowercase())),
            Some(raw) => Err(SettingsError::new(
                name,
                format!(
                    "`{raw}` is not a group object id (a GUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301)"
                ),
            )),
        }
    };
    let ceiling = max_bytes.min(100 * 1024 * 1024);
    let max_upload_bytes: u64 = env.parse(
        "PHOTOSYNC_WEB_MAX_UPLOAD_BYTES",
        DEFAULT_MAX_UPLOAD.min(ceiling),
    )?;
    if !(1024..=ceiling).contains(&max_upload_bytes) {
        return Err(SettingsError::new(
            "PHOTOSYNC_WEB_MAX_UPLOAD_BYTES",
            format!(
                "`{max_upload_bytes}` must be between 1024 and {ceiling} (PHOTOSYNC_MAX_BYTES, at most the host's 100 MB request limit)"
            ),
        ));
    }
    let uploads_per_hour: u32 = env.parse("PHOTOSYNC_WEB_UPLOADS_PER_HOUR", 100)?;
    if !(1..=10_000).contains(&uploads_per_hour) {
        return Err(SettingsError::new(
            "PHOTOSYNC_WEB_UPLOADS_PER_HOUR",
            format!("`{uploads_per_hour}` must be between 1 and 10000"),
        ));
    }
    let extra_origins = match env.get("PHOTOSYNC_WEB_ORIGINS") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                origin(s).ok_or_else(|| {
                    SettingsError::new(
                        "PHOTOSYNC_WEB_ORIGINS",
                        format!("`{s}` is not an origin like https://photos.contoso.com (scheme and host, no path)"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(WebSettings {
        auth,
        self_service,
        approval,
        uploader_group: group("PHOTOSYNC_UPLOADER_GROUP")?,
        approver_group: group("PHOTOSYNC_APPROVER_GROUP")?,
        max_upload_bytes,
        uploads_per_hour,
        extra_origins,
        match_by,
    })
}

/// `WEBSITE_AUTH_ENABLED` read as the Functions host reads it: .NET's
/// `bool.TryParse`, so `True`/`true` in any case, anything else is off
/// (azure-functions-host `EnvironmentExtensions.IsEasyAuthEnabled`).
fn platform_auth_enabled(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn is_guid(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `https://photos.contoso.com/` → `https://photos.contoso.com`, as browsers
/// write the `Origin` header.
fn origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let plain = matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty();
    plain.then(|| url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn web_from(vars: &[(&str, &str)]) -> Result<WebSettings, SettingsError> {
        let env = Env(vars
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect::<HashMap<_, _>>());
        web(&env, MatchBy::UserPrincipalName, 50 * 1024 * 1024)
    }

    #[test]
    fn defaults_trust_nothing_until_the_platform_says_so() {
        let s = web_from(&[]).unwrap();
        assert_eq!(
            s.auth,
            WebAuth::EasyAuth {
                platform_enabled: false
            }
        );
        assert!(!s.self_service && !s.approval);
        assert_eq!(s.max_upload_bytes, 20 * 1024 * 1024);
        assert_eq!(s.uploads_per_hour, 100);
        for on in ["True", "true", " TRUE "] {
            let s = web_from(&[("WEBSITE_AUTH_ENABLED", on)]).unwrap();
            assert_eq!(
                s.auth,
                WebAuth::EasyAuth {
                    platform_enabled: true
                },
                "{on:?}"
            );
        }
        for off in ["False", "1", "yes", "enabled"] {
            let s = web_from(&[("WEBSITE_AUTH_ENABLED", off)]).unwrap();
            assert_eq!(
                s.auth,
                WebAuth::EasyAuth {
                    platform_enabled: false
                },
                "{off:?}"
            );
        }
    }

    #[test]
    fn development_mode_is_refused_in_azure() {
        let s = web_from(&[("PHOTOSYNC_WEB_AUTH", "development")]).unwrap();
        assert_eq!(s.auth, WebAuth::Development);
        let e = web_from(&[
            ("PHOTOSYNC_WEB_AUTH", "development"),
            ("WEBSITE_SITE_NAME", "photosync-abc"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "PHOTOSYNC_WEB_AUTH");
        assert!(e.problem.contains("WEBSITE_SITE_NAME"), "{e}");
        let e = web_from(&[("PHOTOSYNC_WEB_AUTH", "none")]).unwrap_err();
        assert_eq!(e.setting, "PHOTOSYNC_WEB_AUTH");
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[("PHOTOSYNC_APPROVAL", "true")], "PHOTOSYNC_APPROVAL"),
            (
                &[("PHOTOSYNC_UPLOADER_GROUP", "hr-team")],
                "PHOTOSYNC_UPLOADER_GROUP",
            ),
            (
                &[("PHOTOSYNC_WEB_MAX_UPLOAD_BYTES", "10")],
                "PHOTOSYNC_WEB_MAX_UPLOAD_BYTES",
            ),
            (
                &[("PHOTOSYNC_WEB_MAX_UPLOAD_BYTES", "60000000")],
                "PHOTOSYNC_WEB_MAX_UPLOAD_BYTES",
            ),
            (
                &[("PHOTOSYNC_WEB_UPLOADS_PER_HOUR", "0")],
                "PHOTOSYNC_WEB_UPLOADS_PER_HOUR",
            ),
            (
                &[("PHOTOSYNC_WEB_ORIGINS", "https://a.com/path")],
                "PHOTOSYNC_WEB_ORIGINS",
            ),
            (
                &[("PHOTOSYNC_SELF_SERVICE", "maybe")],
                "PHOTOSYNC_SELF_SERVICE",
            ),
        ];
        for (vars, setting) in cases {
            assert_eq!(web_from(vars).unwrap_err().setting, setting, "{vars:?}");
        }
    }

    #[test]
    fn self_service_needs_an_attribute_the_sign_in_carries() {
        let env = Env(HashMap::from([(
            "photosync_self_service".to_owned(),
            "true".to_owned(),
        )]));
        let e = web(&env, MatchBy::EmployeeId, 1 << 20).unwrap_err();
        assert_eq!(e.setting, "PHOTOSYNC_SELF_SERVICE");
        assert!(web(&env, MatchBy::Id, 1 << 20).unwrap().self_service);
    }

    #[test]
    fn groups_and_origins_are_normalised() {
        let s = web_from(&[
            (
                "PHOTOSYNC_UPLOADER_GROUP",
                "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
            ),
            (
                "PHOTOSYNC_WEB_ORIGINS",
                "https://photos.contoso.com/, http://localhost:7071",
            ),
        ])
        .unwrap();
        assert_eq!(
            s.uploader_group.as_deref(),
            Some("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        );
        assert_eq!(
            s.extra_origins,
            ["https://photos.contoso.com", "http://localhost:7071"]
        );
    }
}
