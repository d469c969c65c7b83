//! Backup before overwrite, and restore (issue 16): a profile photo someone
//! set by hand is copied before photosync first replaces it, `photosync
//! restore` puts it back, and Reconcile then leaves it.

use futures::TryStreamExt;

use crate::helpers::jpeg;
use crate::reconcile::{puts, reconcile, start};

fn hand_set() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(120, 90, image::Rgb([10, 120, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_hand_set_photo_is_backed_up_restored_and_then_left_alone() {
    // With PHOTOSYNC_ENFORCE, the strictest case: drift checks run every time.
    let (app, fake) = start(2, &[("PHOTOSYNC_ENFORCE", "true")]).await;
    let original = hand_set();
    fake.set_photo_elsewhere("id-0", original.clone());
    app.upload("user0@contoso.com.jpg", &jpeg(300, 300)).await;
    app.upload("user1@contoso.com.jpg", &jpeg(300, 300)).await;
    reconcile(&app).await;
    assert_eq!(puts(&fake), 2);
    assert_ne!(fake.photo("id-0").unwrap(), original, "replaced");

    let backups = backups(&app).await;
    assert_eq!(backups.len(), 1, "only user0 had a photo: {backups:?}");
    assert!(backups[0].starts_with("backup/user0@contoso.com/"));
    let stored = app.stores.state.get(&backups[0]).await.unwrap();
    assert_eq!(stored.bytes.as_ref(), original.as_slice(), "byte-identical");
    assert_eq!(
        stored.properties.content_type.as_deref(),
        Some("image/jpeg")
    );

    let (status, stdout, stderr) = app.cli(&["backups", "user0@contoso.com"]).await;
    assert!(status.success(), "{stderr}");
    let at = backups[0]
        .trim_start_matches("backup/user0@contoso.com/")
        .trim_end_matches(".jpg");
    assert!(stdout.contains(at), "{stdout}");

    let (status, stdout, stderr) = app.cli(&["restore", "user0@contoso.com", "--at", at]).await;
    assert!(status.success(), "{stdout}\n{stderr}");
    assert_eq!(fake.photo("id-0").unwrap(), original, "put back");
    let uploads = puts(&fake);

    reconcile(&app).await;
    reconcile(&app).await;
    assert_eq!(fake.photo("id-0").unwrap(), original, "Reconcile leaves it");
    assert_eq!(puts(&fake), uploads, "no upload");

    // A backup that does not exist is a usage error naming the ones that do.
    let (status, _, stderr) = app
        .cli(&[
            "restore",
            "user0@contoso.com",
            "--at",
            "20200101T000000.000Z",
        ])
        .await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(at), "{stderr}");
}

/// The backup `.jpg` files in the state container.
async fn backups(app: &crate::helpers::TestApp) -> Vec<String> {
    app.stores
        .state
        .list_blobs(Some("backup"))
        .map_ok(|b| b.name)
        .try_filter(|n| futures::future::ready(n.ends_with(".jpg")))
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_photo_set_by_hand_after_the_first_sync_is_backed_up_before_it_is_replaced() {
    // Without PHOTOSYNC_ENFORCE: Reconcile never checks Graph for drift,
    // so only a new source photo replaces the hand-set one.
    let (app, fake) = start(1, &[]).await;
    app.upload("user0@contoso.com.jpg", &jpeg(300, 300)).await;
    reconcile(&app).await;
    assert_eq!(puts(&fake), 1);
    assert!(backups(&app).await.is_empty(), "there was no photo to keep");

    // Someone sets a photo in Outlook; later HR drops a new one.
    let by_hand = hand_set();
    fake.set_photo_elsewhere("id-0", by_hand.clone());
    app.upload("user0@contoso.com.jpg", &jpeg(320, 320)).await;
    reconcile(&app).await;
    assert_eq!(puts(&fake), 2);
    let taken = backups(&app).await;
    assert_eq!(taken.len(), 1, "{taken:?}");
    let stored = app.stores.state.get(&taken[0]).await.unwrap();
    assert_eq!(stored.bytes.as_ref(), by_hand.as_slice(), "byte-identical");

    // A new source photo over photosync's own upload keeps no copy of it.
    app.upload("user0@contoso.com.jpg", &jpeg(340, 340)).await;
    reconcile(&app).await;
    assert_eq!(puts(&fake), 3);
    assert_eq!(backups(&app).await.len(), 1, "nothing new to keep");
}
