//! Settings of the SharePoint Online target (on when the My Site URL is set).

use std::time::Duration;

use super::graph::parse_service_url;
use super::{Env, SettingsError, bounded};
use crate::sharepoint::{DEFAULT_LIBRARY_PATH, SharePointSettings};

pub(super) fn sharepoint(env: &Env) -> Result<Option<SharePointSettings>, SettingsError> {
    if env.get("PHOTOSYNC_SHAREPOINT_RESOURCE").is_some() {
        // Tokens are per host now (SharePoint checks the audience against the
        // host it receives): one resource for both hosts cannot be right.
        return Err(SettingsError::new(
            "PHOTOSYNC_SHAREPOINT_RESOURCE",
            "is no longer used: photosync requests one token per SharePoint host (the My Site \
             and admin URLs' own origins); remove the setting",
        ));
    }
    let Some(raw) = env.get("PHOTOSYNC_SHAREPOINT_MYSITE_URL") else {
        return Ok(None);
    };
    let mysite_url = parse_service_url("PHOTOSYNC_SHAREPOINT_MYSITE_URL", raw)?;
    let host = mysite_url.host_str().unwrap_or_default();
    let admin_url = match env.get("PHOTOSYNC_SHAREPOINT_ADMIN_URL") {
        Some(raw) => parse_service_url("PHOTOSYNC_SHAREPOINT_ADMIN_URL", raw)?,
        None if host.contains("-my.") => {
            let mut u = mysite_url.clone();
            let _ = u.set_host(Some(&host.replacen("-my.", "-admin.", 1)));
            u
        }
        None => {
            return Err(SettingsError::new(
                "PHOTOSYNC_SHAREPOINT_ADMIN_URL",
                format!("is required: `{host}` is not a `…-my.sharepoint.com` host"),
            ));
        }
    };
    let library_path = library_path(env.get("PHOTOSYNC_SHAREPOINT_LIBRARY_PATH"))?;
    let large_size: u32 = bounded(env, "PHOTOSYNC_SHAREPOINT_LARGE_SIZE", 200, 72..=648)?;
    // PnP's Core.ProfilePictureUploader waits 500 ms between users.
    let pacing: u64 = bounded(env, "PHOTOSYNC_SHAREPOINT_PACING_MS", 500, 0..=60_000)?;
    Ok(Some(SharePointSettings {
        mysite_url,
        admin_url,
        library_path,
        large_size,
        pacing: Duration::from_millis(pacing),
    }))
}

/// `/User Photos/Profile Pictures`, localised on non-English My Site hosts
/// (`/User Photos/Profielafbeeldingen` on Dutch ones; PnP's uploader calls
/// this `targetLibraryPath`): server-relative, no `..`, no control characters.
fn library_path(raw: Option<&str>) -> Result<String, SettingsError> {
    const NAME: &str = "PHOTOSYNC_SHAREPOINT_LIBRARY_PATH";
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIBRARY_PATH.to_owned());
    };
    let path = raw.trim_end_matches('/');
    let segments_ok = path
        .split('/')
        .skip(1)
        .all(|s| !s.trim().is_empty() && s != "." && s != "..");
    if !path.starts_with('/')
        || !segments_ok
        || path.len() > 400
        || path
            .chars()
            .any(|c| c.is_control() || matches!(c, '\\' | '?' | '#' | '%'))
    {
        return Err(SettingsError::new(
            NAME,
            format!("`{raw}` is not a server-relative folder path like `{DEFAULT_LIBRARY_PATH}`"),
        ));
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    fn sharepoint(vars: &[(&str, &str)]) -> crate::sharepoint::SharePointSettings {
        Settings::from_vars(vars.iter().map(|(k, v)| (*k, v.to_string())))
            .unwrap()
            .sharepoint
            .expect("on")
    }

    fn refused(vars: &[(&str, &str)]) -> String {
        Settings::from_vars(vars.iter().map(|(k, v)| (*k, v.to_string())))
            .expect_err("refused")
            .setting
    }

    const MYSITE: (&str, &str) = (
        "PHOTOSYNC_SHAREPOINT_MYSITE_URL",
        "https://contoso-my.sharepoint.com",
    );

    #[test]
    fn hosts_are_derived_from_the_my_site() {
        let s = sharepoint(&[MYSITE]);
        assert_eq!(
            s.admin_url.as_str(),
            "https://contoso-admin.sharepoint.com/"
        );
        assert_eq!(s.large_size, 200);
        assert_eq!(s.library_path, "/User Photos/Profile Pictures");
        assert_eq!(s.pacing.as_millis(), 500, "PnP's pacing");
        assert!(
            Settings::from_vars(Vec::<(String, String)>::new())
                .unwrap()
                .sharepoint
                .is_none()
        );
        assert_eq!(
            refused(&[(
                "PHOTOSYNC_SHAREPOINT_MYSITE_URL",
                "https://intranet.example.com"
            )]),
            "PHOTOSYNC_SHAREPOINT_ADMIN_URL"
        );
    }

    #[test]
    fn the_library_path_is_a_setting() {
        let s = sharepoint(&[
            MYSITE,
            (
                "PHOTOSYNC_SHAREPOINT_LIBRARY_PATH",
                "/User Photos/Profielafbeeldingen/",
            ),
        ]);
        assert_eq!(s.library_path, "/User Photos/Profielafbeeldingen");
        for bad in [
            "User Photos/x",
            "/User Photos/../x",
            "/a//b",
            "/a\u{0}b",
            "/a?b",
        ] {
            assert_eq!(
                refused(&[MYSITE, ("PHOTOSYNC_SHAREPOINT_LIBRARY_PATH", bad)]),
                "PHOTOSYNC_SHAREPOINT_LIBRARY_PATH",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unsafe_or_obsolete_values_name_their_setting() {
        let cases: &[&[(&str, &str)]] = &[
            &[(
                "PHOTOSYNC_SHAREPOINT_MYSITE_URL",
                "http://contoso-my.sharepoint.com",
            )],
            &[
                MYSITE,
                ("PHOTOSYNC_SHAREPOINT_ADMIN_URL", "http://admin.example"),
            ],
            &[MYSITE, ("PHOTOSYNC_SHAREPOINT_LARGE_SIZE", "71")],
            &[MYSITE, ("PHOTOSYNC_SHAREPOINT_PACING_MS", "60001")],
            &[
                MYSITE,
                (
                    "PHOTOSYNC_SHAREPOINT_RESOURCE",
                    "https://contoso.sharepoint.com",
                ),
            ],
        ];
        for vars in cases {
            let (name, _) = vars.last().unwrap();
            assert_eq!(refused(vars), *name, "{vars:?}");
        }
        let local = sharepoint(&[
            ("PHOTOSYNC_SHAREPOINT_MYSITE_URL", "http://127.0.0.1:7001"),
            ("PHOTOSYNC_SHAREPOINT_ADMIN_URL", "http://127.0.0.1:7002"),
        ]);
        assert_eq!(local.admin_url.port(), Some(7002));
    }
}
