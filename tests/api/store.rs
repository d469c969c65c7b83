//! The storage layer against real Azurite (two connection styles), the local
//! filesystem and memory: one contract, four backends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::TryStreamExt;
use photosync::config::{Settings, StorageSettings};
use photosync::store::{BlobProperties, Store, StoreError, WriteMode};

const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A container name no other test uses.
fn unique_container() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn storage(connection_string: &str) -> StorageSettings {
    Settings::from_vars([("PHOTOSYNC_STORAGE", connection_string)])
        .expect("valid connection string")
        .storage
}

fn require_azurite() {
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", 10000)).is_ok(),
        "Azurite is not listening on 127.0.0.1:10000: run the tests with ./scripts/test.sh"
    );
}

/// Opens a fresh Azurite container through `connection_string` and creates it.
async fn azurite(connection_string: &str) -> Store {
    require_azurite();
    let store = Store::open(&storage(connection_string), &unique_container()).unwrap();
    store.ensure_container().await.expect("create container");
    // Creating it again is fine (first runs and restarts do this).
    store.ensure_container().await.expect("container exists");
    store
}

fn thumbnail_properties() -> BlobProperties {
    BlobProperties {
        content_type: Some("image/jpeg".into()),
        cache_control: Some("public, max-age=86400".into()),
        metadata: BTreeMap::from([
            ("sha256".to_owned(), "9f86d081884c7d65".to_owned()),
            ("upn".to_owned(), "alice@contoso.com".to_owned()),
        ]),
    }
}

/// What every backend must do the same way.
async fn storage_contract(store: Store) {
    let name = "hr/new hires/alice@contoso.com.jpg";
    let first = Bytes::from_static(b"first version");

    // Round trip with properties.
    let created = store
        .put(
            name,
            first.clone(),
            &thumbnail_properties(),
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
    assert_eq!(created.name, name);
    assert_eq!(created.size, first.len() as u64);
    let etag = created.etag.clone().expect("an ETag");
    let blob = store.get(name).await.unwrap();
    assert_eq!(blob.bytes, first);
    assert_eq!(blob.info.etag.as_ref(), Some(&etag));
    assert_eq!(blob.properties, thumbnail_properties());
    let head = store.head(name).await.unwrap();
    assert_eq!(
        (head.name.as_str(), head.size, &head.etag),
        (name, created.size, &created.etag)
    );

    // Create-only refuses to replace.
    let err = store
        .put(
            name,
            Bytes::from_static(b"x"),
            &BlobProperties::default(),
            WriteMode::Create,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(err.code().as_str(), "storage-unavailable");
    assert!(!err.is_transient());

    // Conditional update: current ETag wins, a stale one loses.
    let second = Bytes::from_static(b"second version, longer");
    let second_properties = BlobProperties {
        content_type: Some("application/json".into()),
        cache_control: None,
        metadata: BTreeMap::from([("version".to_owned(), "2".to_owned())]),
    };
    let updated = store
        .put(
            name,
            second.clone(),
            &second_properties,
            WriteMode::IfMatch(etag.clone()),
        )
        .await
        .unwrap();
    assert_ne!(
        updated.etag.as_ref(),
        Some(&etag),
        "a write changes the ETag"
    );
    let err = store
        .put(
            name,
            Bytes::from_static(b"lost"),
            &BlobProperties::default(),
            WriteMode::IfMatch(etag),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::PreconditionFailed { .. }),
        "{err:?}"
    );
    assert!(
        !err.is_transient(),
        "a lost race is the caller's to resolve"
    );
    let blob = store.get(name).await.unwrap();
    assert_eq!(blob.bytes, second, "the losing write left no trace");
    assert_eq!(
        blob.properties, second_properties,
        "properties are replaced, not merged"
    );

    // Listing, with and without a prefix.
    store
        .put(
            "bob@contoso.com.png",
            Bytes::from_static(b"png"),
            &BlobProperties::default(),
            WriteMode::Create,
        )
        .await
        .unwrap();
    let mut all: Vec<String> = store
        .list_blobs(None)
        .map_ok(|b| b.name)
        .try_collect()
        .await
        .unwrap();
    all.sort();
    assert_eq!(all, vec!["bob@contoso.com.png", name]);
    let hr: Vec<String> = store
        .list_blobs(Some("hr"))
        .map_ok(|b| b.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(hr, vec![name]);

    // Delete, twice.
    store.delete(name).await.unwrap();
    store.delete(name).await.unwrap();
    let err = store.get(name).await.unwrap_err();
    assert_eq!(err.code().as_str(), "blob-not-found", "{err:?}");
    let err = store.head(name).await.unwrap_err();
    assert_eq!(err.code().as_str(), "blob-not-found", "{err:?}");
}

#[tokio::test]
async fn azurite_through_use_development_storage() {
    storage_contract(azurite("UseDevelopmentStorage=true").await).await;
}

#[tokio::test]
async fn azurite_through_an_explicit_account_key_connection_string() {
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};\
         BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    );
    storage_contract(azurite(&connection).await).await;
}

#[tokio::test]
async fn local_filesystem() {
    let dir = crate::helpers::temp_dir();
    let store = Store::local(dir.path().join("thumbnails")).unwrap();
    store.ensure_container().await.unwrap();
    storage_contract(store).await;
}

#[tokio::test]
async fn memory() {
    storage_contract(Store::memory()).await;
}

#[tokio::test]
async fn local_files_stay_plain_files_a_person_can_open() {
    let dir = crate::helpers::temp_dir();
    let store = Store::local(dir.path()).unwrap();
    store
        .put(
            "alice/648x648.jpg",
            Bytes::from_static(b"jpeg"),
            &thumbnail_properties(),
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("alice/648x648.jpg")).unwrap(),
        b"jpeg"
    );
}

#[tokio::test]
async fn a_wrong_account_key_is_an_access_error_not_a_retry() {
    require_azurite();
    let wrong = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;\
                 AccountKey=d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=;\
                 BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1";
    let store = Store::open(&storage(wrong), &unique_container()).unwrap();
    let err = store.ensure_container().await.unwrap_err();
    assert_eq!(err.code().as_str(), "storage-configuration", "{err:?}");
    assert!(!err.is_transient());
    assert!(!format!("{err:?}").contains("d3Jvbmcta2V5"), "{err:?}");
}

#[tokio::test]
async fn names_that_would_escape_are_refused_before_any_request() {
    let store = Store::memory();
    for name in ["../outside.jpg", "a//b.jpg", "a/./b.jpg"] {
        let err = store.get(name).await.unwrap_err();
        assert_eq!(err.code().as_str(), "invalid-name", "{name}: {err:?}");
    }
}
