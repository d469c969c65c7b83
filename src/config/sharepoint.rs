//! Settings of the SharePoint Online target (on when the My Site URL is set).

use std::time::Duration;

use url::Url;

use super::{Env, SettingsError};
use crate::sharepoint::SharePointSettings;

pub(super) fn sharepoint(env: &Env) -> Result<Option<SharePointSettings>, SettingsError> {
    let Some(raw) = env.get("PHOTOSYNC_SHAREPOINT_MYSITE_URL") else {
        return Ok(None);
    };
    let url = |name: &str, raw: &str| {
        Url::parse(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
            .ok_or_else(|| SettingsError::new(name, format!("`{raw}` is not an http(s) URL")))
    };
    let mysite_url = url("PHOTOSYNC_SHAREPOINT_MYSITE_URL", raw)?;
    let host = mysite_url.host_str().unwrap_or_default();
    let with_host = |replacement: String| {
        let mut u = mysite_url.clone();
        let _ = u.set_host(Some(&replacement));
        u
    };
    let admin_url = match env.get("PHOTOSYNC_SHAREPOINT_ADMIN_URL") {
        Some(raw) => url("PHOTOSYNC_SHAREPOINT_ADMIN_URL", raw)?,
        None if host.contains("-my.") => with_host(host.replacen("-my.", "-admin.", 1)),
        None => {
            return Err(SettingsError::new(
                "PHOTOSYNC_SHAREPOINT_ADMIN_URL",
                format!("is required: `{host}` is not a `…-my.sharepoint.com` host"),
            ));
        }
    };
    let resource = match env.get("PHOTOSYNC_SHAREPOINT_RESOURCE") {
        Some(raw) => url("PHOTOSYNC_SHAREPOINT_RESOURCE", raw)?
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        None => with_host(host.replacen("-my.", ".", 1))
            .origin()
            .ascii_serialization(),
    };
    let large_size: u32 = env.parse("PHOTOSYNC_SHAREPOINT_LARGE_SIZE", 200)?;
    if !(72..=648).contains(&large_size) {
        return Err(SettingsError::new(
            "PHOTOSYNC_SHAREPOINT_LARGE_SIZE",
            format!("`{large_size}` must be between 72 and 648"),
        ));
    }
    Ok(Some(SharePointSettings {
        mysite_url,
        admin_url,
        resource,
        large_size,
        pacing: Duration::from_millis(env.parse("PHOTOSYNC_SHAREPOINT_PACING_MS", 200)?),
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn hosts_are_derived_from_the_my_site() {
        let s = Settings::from_vars([(
            "PHOTOSYNC_SHAREPOINT_MYSITE_URL",
            "https://contoso-my.sharepoint.com",
        )])
        .unwrap()
        .sharepoint
        .expect("on");
        assert_eq!(
            s.admin_url.as_str(),
            "https://contoso-admin.sharepoint.com/"
        );
        assert_eq!(s.resource, "https://contoso.sharepoint.com");
        assert_eq!(s.large_size, 200);
        assert!(
            Settings::from_vars(Vec::<(String, String)>::new())
                .unwrap()
                .sharepoint
                .is_none()
        );
        let e = Settings::from_vars([(
            "PHOTOSYNC_SHAREPOINT_MYSITE_URL",
            "https://intranet.example.com",
        )])
        .unwrap_err();
        assert_eq!(e.setting, "PHOTOSYNC_SHAREPOINT_ADMIN_URL");
    }
}
