//! Settings: defaults, precedence and errors that name the setting.

use super::*;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::from_vars(vars.iter().map(|(k, v)| (*k, v.to_string())))
}

fn error(vars: &[(&str, &str)]) -> SettingsError {
    settings(vars).expect_err("should be refused")
}

#[test]
fn defaults_without_any_setting() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.port, None);
    assert_eq!(s.containers.photos, "photos");
    assert_eq!(s.containers.thumbnails, "thumbnails");
    assert_eq!(s.containers.state, "photosync");
    assert_eq!(s.render, RenderOptions::default());
    assert_eq!(s.log.format, LogFormat::Auto);
    assert_eq!(s.log.filter, "info");
    // Never a silent Azurite: a command against it would look like success.
    assert!(
        matches!(s.storage.kind, StorageKind::Unconfigured),
        "{:?}",
        s.storage.kind
    );
    assert!(StorageSettings::unconfigured_help().contains("PHOTOSYNC_STORAGE__accountName"));
}

#[test]
fn an_account_name_off_azure_signs_in_with_the_azure_cli() {
    // A laptop: no platform identity endpoint.
    let s = settings(&[("PHOTOSYNC_STORAGE__accountName", "contosophotos")]).unwrap();
    match &s.storage.kind {
        StorageKind::AzureCli { account, .. } => assert_eq!(account, "contosophotos"),
        other => panic!("{other:?}"),
    }
    assert!(
        s.storage.describe().contains("`contosophotos`")
            && s.storage.describe().contains("Azure CLI"),
        "{}",
        s.storage.describe()
    );
    // Said explicitly, also on Azure; and the managed identity when asked for.
    let s = settings(&[
        ("PHOTOSYNC_STORAGE__accountName", "contosophotos"),
        ("PHOTOSYNC_STORAGE__credential", "azurecli"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/MSI/token/"),
        ("IDENTITY_HEADER", "h"),
    ])
    .unwrap();
    assert!(matches!(s.storage.kind, StorageKind::AzureCli { .. }));
    let s = settings(&[
        ("PHOTOSYNC_STORAGE__accountName", "contosophotos"),
        ("PHOTOSYNC_STORAGE__credential", "managedidentity"),
    ])
    .unwrap();
    assert!(matches!(
        s.storage.kind,
        StorageKind::ManagedIdentity { .. }
    ));
    let e = error(&[
        ("PHOTOSYNC_STORAGE__accountName", "contosophotos"),
        ("PHOTOSYNC_STORAGE__credential", "password"),
    ]);
    assert_eq!(e.setting, "PHOTOSYNC_STORAGE__credential");
}

#[test]
fn a_tenant_alone_means_graph_as_the_signed_in_admin() {
    let s = settings(&[("PHOTOSYNC_TENANT_ID", "contoso.onmicrosoft.com")]).unwrap();
    assert_eq!(
        s.graph.credentials.as_ref().map(|c| c.kind()),
        Some("Azure CLI")
    );
    // A half-configured app registration stays dry instead.
    let s = settings(&[
        ("PHOTOSYNC_TENANT_ID", "contoso.onmicrosoft.com"),
        ("PHOTOSYNC_CLIENT_ID", "0c2f"),
    ])
    .unwrap();
    assert!(s.graph.credentials.is_none());
}

#[test]
fn custom_handler_port_wins_over_the_legacy_name() {
    let s = settings(&[
        ("FUNCTIONS_HTTPWORKER_PORT", "7000"),
        ("FUNCTIONS_CUSTOMHANDLER_PORT", "7071"),
    ])
    .unwrap();
    assert_eq!(s.port, Some(7071));
    let s = settings(&[("FUNCTIONS_HTTPWORKER_PORT", "7000")]).unwrap();
    assert_eq!(s.port, Some(7000));
    let e = error(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "seventy")]);
    assert_eq!(e.setting, "FUNCTIONS_CUSTOMHANDLER_PORT");
}

#[test]
fn photosync_storage_wins_over_azure_webjobs_storage() {
    let s = settings(&[
        ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
        (
            "PHOTOSYNC_STORAGE",
            "AccountName=photos1;AccountKey=a2V5;EndpointSuffix=core.windows.net",
        ),
    ])
    .unwrap();
    assert_eq!(s.storage.source, "PHOTOSYNC_STORAGE");
    match s.storage.kind {
        StorageKind::ConnectionString(c) => assert_eq!(c.account, "photos1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn falls_back_to_azure_webjobs_storage() {
    let s = settings(&[("AzureWebJobsStorage", "UseDevelopmentStorage=true")]).unwrap();
    assert_eq!(s.storage.source, "AzureWebJobsStorage");
}

#[test]
fn identity_based_connection_with_user_assigned_identity() {
    let s = settings(&[
        (
            "PHOTOSYNC_STORAGE__blobServiceUri",
            "https://contosophotos.blob.core.windows.net",
        ),
        ("PHOTOSYNC_STORAGE__clientId", "1b2c3d4e"),
        ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
    ])
    .unwrap();
    assert_eq!(s.storage.source, "PHOTOSYNC_STORAGE");
    match s.storage.kind {
        StorageKind::ManagedIdentity {
            account, client_id, ..
        } => {
            assert_eq!(account, "contosophotos");
            assert_eq!(client_id.as_deref(), Some("1b2c3d4e"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn host_style_account_name_for_azure_webjobs_storage() {
    // What the deployment template sets for the host's own storage; on
    // Azure the platform provides the identity endpoint.
    let s = settings(&[
        ("AzureWebJobsStorage__accountName", "contosofunc"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/MSI/token/"),
        ("IDENTITY_HEADER", "h"),
    ])
    .unwrap();
    match s.storage.kind {
        StorageKind::ManagedIdentity {
            blob_service_uri,
            client_id,
            ..
        } => {
            assert_eq!(
                blob_service_uri.as_str(),
                "https://contosofunc.blob.core.windows.net/"
            );
            assert_eq!(client_id, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn setting_names_are_case_insensitive() {
    let s = settings(&[("photosync_photos_container", "hr-photos")]).unwrap();
    assert_eq!(s.containers.photos, "hr-photos");
}

#[test]
fn a_bad_connection_string_names_the_setting_not_the_key() {
    let e = error(&[(
        "PHOTOSYNC_STORAGE",
        "AccountName=a;AccountKey=c2VjcmV0;Bogus=1",
    )]);
    assert_eq!(e.setting, "PHOTOSYNC_STORAGE");
    let text = e.to_string();
    assert!(text.contains("unknown key `Bogus`"), "{text}");
    assert!(!text.contains("c2VjcmV0"), "{text}");
}

#[test]
fn render_settings_are_parsed_and_validated() {
    let s = settings(&[
        ("PHOTOSYNC_SIZES", "648, 96,48,96"),
        ("PHOTOSYNC_JPEG_QUALITY", "90"),
        ("PHOTOSYNC_CROP", "Center"),
        ("PHOTOSYNC_BACKGROUND", "#102030"),
        ("PHOTOSYNC_MIN_SIZE", "64"),
        ("PHOTOSYNC_MAX_BYTES", "1000000"),
        ("PHOTOSYNC_MAX_PIXELS", "2000000"),
        ("PHOTOSYNC_MAX_DECODE_MB", "128"),
        ("PHOTOSYNC_MAX_RENDER_SECS", "5"),
    ])
    .unwrap();
    assert_eq!(s.render.max_decode_bytes, 128 << 20);
    assert_eq!(
        s.render.time_budget,
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(s.render.sizes, vec![48, 96, 648]);
    assert_eq!(s.render.jpeg_quality, 90);
    assert_eq!(s.render.crop, CropMode::Center);
    assert_eq!(s.render.background, [0x10, 0x20, 0x30]);
    assert_eq!(s.render.min_size, 64);
    assert_eq!(s.render.max_bytes, 1_000_000);
    assert_eq!(s.render.max_pixels, 2_000_000);
}

#[test]
fn every_bad_value_names_its_setting() {
    let cases = [
        ("PHOTOSYNC_SIZES", "48,big"),
        ("PHOTOSYNC_SIZES", "8"),
        ("PHOTOSYNC_JPEG_QUALITY", "0"),
        ("PHOTOSYNC_JPEG_QUALITY", "high"),
        ("PHOTOSYNC_CROP", "sideways"),
        ("PHOTOSYNC_BACKGROUND", "white"),
        ("PHOTOSYNC_MIN_SIZE", "-1"),
        ("PHOTOSYNC_MAX_BYTES", "10MB"),
        ("PHOTOSYNC_PHOTOS_CONTAINER", "Photos"),
        ("PHOTOSYNC_THUMBNAILS_CONTAINER", "a"),
        ("PHOTOSYNC_STATE_CONTAINER", "bad--name"),
        ("PHOTOSYNC_LOG_FORMAT", "xml"),
        ("PHOTOSYNC_STORAGE__blobServiceUri", "not a url"),
        ("PHOTOSYNC_STORAGE__credential", "connectionstring"),
    ];
    for (name, value) in cases {
        let mut vars = vec![(name, value)];
        if name == "PHOTOSYNC_STORAGE__credential" {
            vars.push((
                "PHOTOSYNC_STORAGE__blobServiceUri",
                "https://a.blob.core.windows.net",
            ));
        }
        let e = error(&vars);
        assert_eq!(e.setting, name, "{e}");
        assert!(
            e.to_string().starts_with(&format!("setting {name}: ")),
            "{e}"
        );
    }
}

#[test]
fn photos_container_must_not_be_written_to() {
    let e = error(&[("PHOTOSYNC_STATE_CONTAINER", "photos")]);
    assert!(e.to_string().contains("re-trigger"), "{e}");
}

#[test]
fn body_limit_leaves_room_for_base64() {
    let s = settings(&[("PHOTOSYNC_MAX_BYTES", "3000000")]).unwrap();
    assert!(s.max_body_bytes() >= 4_000_000);
}

#[test]
fn debug_output_hides_the_account_key() {
    let s = settings(&[(
        "PHOTOSYNC_STORAGE",
        "AccountName=a;AccountKey=c3VwZXJzZWNyZXQ=",
    )])
    .unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("c3VwZXJzZWNyZXQ"), "{debug}");
}

mod graph {
    use super::*;
    use crate::graph::MatchBy;
    use crate::identity::Credentials;

    const APP: [(&str, &str); 2] = [
        ("PHOTOSYNC_TENANT_ID", "contoso.onmicrosoft.com"),
        (
            "PHOTOSYNC_CLIENT_ID",
            "11111111-2222-3333-4444-555555555555",
        ),
    ];
    const MSI: [(&str, &str); 2] = [
        ("IDENTITY_ENDPOINT", "http://localhost:8081/msi/token"),
        ("IDENTITY_HEADER", "platform-secret"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        APP.iter()
            .chain(MSI.iter())
            .chain(extra.iter())
            .copied()
            .collect()
    }

    #[test]
    fn defaults_are_public_cloud_upn_matching_and_no_credentials() {
        let g = settings(&[]).unwrap().graph;
        assert!(g.credentials.is_none(), "no credentials: dry run");
        assert_eq!(
            g.authority_url.as_str(),
            "https://login.microsoftonline.com/"
        );
        assert_eq!(g.graph_url.as_str(), "https://graph.microsoft.com/");
        assert_eq!(g.match_by, MatchBy::UserPrincipalName);
        assert_eq!(g.concurrency, 4);
        assert!(!g.dry_run);
    }

    #[test]
    fn certificate_beats_secret_beats_managed_identity() {
        let g = settings(&with(&[
            ("PHOTOSYNC_CLIENT_SECRET", "s3cret"),
            ("PHOTOSYNC_CLIENT_CERTIFICATE_PATH", "/etc/app.pem"),
        ]))
        .unwrap()
        .graph;
        assert!(matches!(
            g.credentials,
            Some(Credentials::Certificate { .. })
        ));
        let g = settings(&with(&[("PHOTOSYNC_CLIENT_SECRET", "s3cret")]))
            .unwrap()
            .graph;
        assert!(matches!(
            g.credentials,
            Some(Credentials::ClientSecret { .. })
        ));
        let g = settings(&with(&[])).unwrap().graph;
        match g.credentials {
            Some(Credentials::ManagedIdentity { client_id, .. }) => {
                assert_eq!(
                    client_id.as_deref(),
                    Some(APP[1].1),
                    "user-assigned identity"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_secret_needs_the_tenant() {
        let e = error(&[
            ("PHOTOSYNC_CLIENT_ID", "x"),
            ("PHOTOSYNC_CLIENT_SECRET", "s3cret-value"),
        ]);
        assert_eq!(e.setting, "PHOTOSYNC_TENANT_ID");
        assert!(!e.to_string().contains("s3cret-value"));
    }

    #[test]
    fn graph_values_are_validated() {
        let s = settings(&[
            ("PHOTOSYNC_MATCH_BY", "employeeId"),
            ("PHOTOSYNC_DRY_RUN", "yes"),
            ("PHOTOSYNC_GRAPH_URL", "https://graph.microsoft.us"),
            (
                "PHOTOSYNC_AUTHORITY_URL",
                "https://login.microsoftonline.us",
            ),
        ])
        .unwrap();
        assert_eq!(s.graph.match_by, MatchBy::EmployeeId);
        assert!(s.graph.dry_run);
        assert_eq!(s.graph.graph_url.host_str(), Some("graph.microsoft.us"));
        for (name, value) in [
            ("PHOTOSYNC_MATCH_BY", "upn"),
            ("PHOTOSYNC_DRY_RUN", "maybe"),
            ("PHOTOSYNC_GRAPH_CONCURRENCY", "0"),
            ("PHOTOSYNC_GRAPH_MAX_ATTEMPTS", "0"),
            ("PHOTOSYNC_GRAPH_URL", "graph.microsoft.com"),
            ("IDENTITY_ENDPOINT", "::"),
        ] {
            let mut vars = vec![(name, value)];
            if name == "IDENTITY_ENDPOINT" {
                vars.push(("IDENTITY_HEADER", "h"));
            }
            assert_eq!(error(&vars).setting, name);
        }
    }
}

/// Every setting is bounded: each value a careless admin (or a fuzzer)
/// might type stops start-up naming the setting (issue 15's table).
#[test]
fn out_of_range_settings_are_refused_naming_the_setting() {
    let cases: &[(&str, &str)] = &[
        ("PHOTOSYNC_GRAPH_TIMEOUT_SECS", "0"),
        ("PHOTOSYNC_RECONCILE_BUDGET_SECS", "0"),
        ("PHOTOSYNC_MIN_SIZE", "4294967295"),
        ("PHOTOSYNC_MIN_SIZE", "0"),
        ("PHOTOSYNC_MAX_PIXELS", "18446744073709551615"),
        ("PHOTOSYNC_MAX_PIXELS", "0"),
        ("PHOTOSYNC_MAX_BYTES", "0"),
        ("PHOTOSYNC_MAX_BYTES", "999999999999"),
        ("PHOTOSYNC_JPEG_QUALITY", "0"),
        ("PHOTOSYNC_RECONCILE_CONCURRENCY", "100000"),
        ("PHOTOSYNC_HANDLER_HEADER_TIMEOUT_SECS", "0"),
        ("PHOTOSYNC_MAX_DECODE_MB", "16"),
        ("PHOTOSYNC_MAX_DECODE_MB", "99999"),
        ("PHOTOSYNC_MAX_RENDER_SECS", "0"),
        ("PHOTOSYNC_MAX_RENDER_SECS", "601"),
        ("PHOTOSYNC_MEMORY_MB", "159"),
        ("PHOTOSYNC_MEMORY_MB", "65537"),
        ("PHOTOSYNC_LOG", "photosync=loud"),
        ("IDENTITY_ENDPOINT", "file:///etc/passwd"),
    ];
    for (name, value) in cases {
        let mut vars = vec![(*name, *value)];
        if *name == "IDENTITY_ENDPOINT" {
            vars.push(("IDENTITY_HEADER", "h"));
        }
        let e = error(&vars);
        assert_eq!(e.setting, *name, "{name}={value}: {e}");
        assert!(
            e.to_string().contains(value) || e.to_string().contains("must"),
            "{e}"
        );
    }
    let e = error(&[
        ("PHOTOSYNC_STATE_CONTAINER", "shared"),
        ("PHOTOSYNC_THUMBNAILS_CONTAINER", "shared"),
    ]);
    assert_eq!(e.setting, "PHOTOSYNC_STATE_CONTAINER", "{e}");
}

#[test]
fn the_memory_target_fits_one_largest_photo_or_says_what_to_raise() {
    // Defaults: 256 MB = 48 for the process + 160 for decodes + 48 for
    // photo bytes, which one 20 MB photo's 27 MB body needs 47 of.
    let s = settings(&[]).unwrap();
    assert_eq!(s.memory.target, 256 << 20);
    assert_eq!((s.memory.decode, s.memory.held), (160 << 20, 48 << 20));
    // A 50 MB photo does not fit the default target: start-up says how much it needs.
    let e = error(&[("PHOTOSYNC_MAX_BYTES", "52428800")]);
    assert_eq!(e.setting, "PHOTOSYNC_MEMORY_MB", "{e}");
    assert!(e.to_string().contains("at least 325"), "{e}");
    let s = settings(&[
        ("PHOTOSYNC_MAX_BYTES", "52428800"),
        ("PHOTOSYNC_MEMORY_MB", "325"),
    ])
    .unwrap();
    assert!(s.memory.held >= crate::memory::parse_cost(s.max_body_bytes() as u64));
}
