//! `photosync status USER|PHOTO`: what an admin asks when one person says
//! "my photo did not change": the record, the blob, the Microsoft 365
//! photo, the thumbnails, the backups and what the next run will do.

use photosync::store::WriteMode;

use crate::fakes::graph::{FakeGraph, FakeUser};
use crate::helpers::{deployment, jpeg, photosync};

#[tokio::test]
async fn status_tells_one_users_whole_story() {
    let fake = FakeGraph::start().await;
    fake.add_user(FakeUser::new("id-alice", "Alice@contoso.com"));
    fake.set_photo_elsewhere("id-alice", jpeg(200, 200));
    let (env, stores) = deployment(&fake).await;
    let put = |name: &'static str, bytes: Vec<u8>| {
        let photos = stores.photos.clone();
        async move {
            photos
                .put(
                    name,
                    bytes.into(),
                    &Default::default(),
                    WriteMode::Overwrite,
                )
                .await
                .unwrap()
        }
    };
    put("hr/alice@contoso.com.jpg", jpeg(800, 700)).await;
    let (code, _, err) = photosync(&["reconcile"], env.clone()).await;
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = photosync(&["status", "alice@contoso.com"], env.clone()).await;
    assert_eq!(code, 0, "{err}");
    for expected in [
        "photo hr/alice@contoso.com.jpg",
        "ledger: synced since",
        "for Alice@contoso.com (id id-alice)",
        "next Reconcile: nothing: unchanged",
        "user alice@contoso.com",
        "(the photo photosync set)",
        "thumbnails: 9 (48x48, 64x64, 96x96,",
        "648x648) under alice@contoso.com/ in",
        // The photo set elsewhere before photosync replaced it.
        "backups: 1 (newest",
    ] {
        assert!(out.contains(expected), "no {expected:?} in:\n{out}");
    }
    // The same by the photo's name.
    let (code, by_photo, _) = photosync(&["status", "hr/alice@contoso.com.jpg"], env.clone()).await;
    assert_eq!(code, 0);
    assert!(by_photo.contains("ledger: synced"), "{by_photo}");

    // A new version: the next run will sync it; someone else's change shows.
    put("hr/alice@contoso.com.jpg", jpeg(500, 300)).await;
    fake.set_photo_elsewhere("id-alice", jpeg(120, 120));
    let (_, out, _) = photosync(&["status", "alice@contoso.com"], env.clone()).await;
    assert!(out.contains("next Reconcile: sync it (changed)"), "{out}");
    assert!(
        out.contains("changed elsewhere since photosync set it"),
        "{out}"
    );

    // Someone photosync never saw: a clear refusal, exit 2.
    let (code, _, err) = photosync(&["status", "bob@contoso.com"], env).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("photosync has no record of `bob@contoso.com`"),
        "{err}"
    );
}
