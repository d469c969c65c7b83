//! The portal's rules in process, over memory stores: who may upload for
//! whom, the approval path, and what lands where.

use super::*;
use crate::store::Store;
use bytes::Bytes;

fn portal(vars: &[(&str, &str)]) -> (Portal, Stores) {
    let settings = Settings::from_vars(vars.iter().map(|(k, v)| (*k, v.to_string()))).unwrap();
    let stores = Stores::memory();
    let renderer = crate::renderer::Renderer::new(crate::memory::Memory::new(
        settings.memory.held,
        settings.memory.decode,
    ));
    (
        Portal::new(Arc::new(settings), stores.clone(), renderer),
        stores,
    )
}

/// Self-service with approval.
const WITH_APPROVAL: &[(&str, &str)] = &[
    ("PHOTOSYNC_SELF_SERVICE", "true"),
    ("PHOTOSYNC_APPROVAL", "true"),
];

fn actor(upn: &str, uploader: bool, approver: bool) -> Actor {
    Actor {
        id: format!("oid-{upn}"),
        upn: upn.to_owned(),
        name: upn.to_owned(),
        roles: Roles { uploader, approver },
    }
}

fn jpeg() -> Bytes {
    let img = image::RgbImage::from_fn(200, 300, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    Bytes::from(out.into_inner())
}

fn upload(for_key: Option<&str>) -> Upload {
    Upload {
        bytes: jpeg(),
        for_key: for_key.map(str::to_owned),
        file_name: "photo.jpg".into(),
        focus: Some("0.5,0.3".into()),
    }
}

async fn names(store: &Store, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    store
        .list_blobs(Some(prefix))
        .map_ok(|b| b.name)
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_uploader_uploads_for_anyone_straight_into_the_photos_container() {
    let (portal, stores) = portal(&[]);
    let hr = actor("hr@contoso.com", true, false);
    let row = portal
        .upload(&hr, upload(Some("Bob@Contoso.com")))
        .await
        .unwrap();
    assert_eq!(row.photo, "web/bob@contoso.com.jpg");
    assert_eq!(row.state, "uploaded");
    let blob = stores.photos.get("web/bob@contoso.com.jpg").await.unwrap();
    assert_eq!(blob.properties.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(blob.properties.metadata["photosync_focus"], "0.5,0.3");
    assert_eq!(
        blob.properties.metadata["photosync_uploaded_by"],
        "hr@contoso.com"
    );
    let audit = names(&stores.state, "audit").await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(audit[0].contains("-uploaded-"), "{audit:?}");
    // The uploader follows it by its reference.
    let rows = portal
        .status(&hr, std::slice::from_ref(&row.reference))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "bob@contoso.com");
}

#[tokio::test]
async fn without_self_service_people_without_a_role_are_turned_away() {
    let (portal, stores) = portal(&[]);
    let alice = actor("alice@contoso.com", false, false);
    let e = portal.upload(&alice, upload(None)).await.unwrap_err();
    assert!(matches!(e, PortalError::Forbidden(_)), "{e:?}");
    assert!(e.to_string().contains("photosync.uploader"), "{e}");
    assert!(portal.status(&alice, &[]).await.is_err());
    assert!(names(&stores.photos, "web").await.is_empty());
}

#[tokio::test]
async fn an_employee_uploads_only_their_own_photo() {
    let (portal, stores) = portal(&[("PHOTOSYNC_SELF_SERVICE", "true")]);
    let alice = actor("Alice@Contoso.com", false, false);
    let e = portal
        .upload(&alice, upload(Some("bob@contoso.com")))
        .await
        .unwrap_err();
    assert!(matches!(e, PortalError::Forbidden(_)), "{e:?}");
    assert!(names(&stores.photos, "web").await.is_empty());
    let refused = names(&stores.state, "audit").await;
    assert!(refused[0].contains("-refused-"), "{refused:?}");

    // Naming themselves, or nobody, is the same: their own photo.
    let row = portal
        .upload(&alice, upload(Some("alice@contoso.com")))
        .await
        .unwrap();
    assert_eq!(row.photo, "web/alice@contoso.com.jpg");
    let row = portal.upload(&alice, upload(None)).await.unwrap();
    assert_eq!(row.key, "alice@contoso.com");
    // They see their own uploads, not someone else's by reference.
    let hr = actor("hr@contoso.com", true, false);
    let bobs = portal.upload(&hr, upload(Some("bob"))).await.unwrap();
    let seen = portal.status(&alice, &[bobs.reference]).await.unwrap();
    assert!(
        seen.iter().all(|r| r.key == "alice@contoso.com"),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn with_approval_a_photo_waits_outside_the_photos_container_until_approved() {
    let (portal, stores) = portal(WITH_APPROVAL);
    let alice = actor("alice@contoso.com", false, false);
    let boss = actor("boss@contoso.com", false, true);
    let row = portal.upload(&alice, upload(None)).await.unwrap();
    assert_eq!(row.state, "pending-approval");
    assert!(names(&stores.photos, "web").await.is_empty());

    // Only approvers see the queue.
    assert!(portal.pending(&alice).await.is_err());
    let queue = portal.pending(&boss).await.unwrap();
    assert_eq!(queue.len(), 1);
    let photo = portal
        .pending_photo(&boss, &queue[0].reference)
        .await
        .unwrap();
    assert_eq!(photo.content_type, "image/jpeg");
    assert_eq!(photo.bytes, jpeg());

    let approved = portal.approve(&boss, &row.reference).await.unwrap();
    assert_eq!(approved.state, "uploaded");
    let blob = stores
        .photos
        .get("web/alice@contoso.com.jpg")
        .await
        .unwrap();
    assert_eq!(blob.properties.metadata["photosync_focus"], "0.5,0.3");
    assert!(portal.pending(&boss).await.unwrap().is_empty());
    // A second decision finds nothing to decide.
    assert!(matches!(
        portal.approve(&boss, &row.reference).await,
        Err(PortalError::NotFound(_))
    ));
    let audit = names(&stores.state, "audit").await;
    assert!(audit.iter().any(|n| n.contains("-submitted-")), "{audit:?}");
    assert!(audit.iter().any(|n| n.contains("-approved-")), "{audit:?}");
}

#[tokio::test]
async fn a_rejection_tells_the_employee_why_and_nothing_syncs() {
    let (portal, stores) = portal(WITH_APPROVAL);
    let alice = actor("alice@contoso.com", false, false);
    let boss = actor("boss@contoso.com", false, true);
    let row = portal.upload(&alice, upload(None)).await.unwrap();
    assert!(portal.reject(&boss, &row.reference, "  ").await.is_err());
    portal
        .reject(&boss, &row.reference, "Please use a photo of your face")
        .await
        .unwrap();
    let mine = portal.status(&alice, &[]).await.unwrap();
    assert_eq!(mine[0].state, "rejected");
    assert!(
        mine[0]
            .message
            .as_deref()
            .unwrap()
            .contains("Please use a photo of your face")
    );
    assert!(names(&stores.photos, "web").await.is_empty());
    assert!(names(&stores.state, "web/pending").await.is_empty());
}

#[tokio::test]
async fn an_approver_cannot_approve_their_own_photo() {
    let (portal, _) = portal(WITH_APPROVAL);
    let boss = actor("boss@contoso.com", false, true);
    let row = portal.upload(&boss, upload(None)).await.unwrap();
    let e = portal.approve(&boss, &row.reference).await.unwrap_err();
    assert!(matches!(e, PortalError::Forbidden(_)), "{e:?}");
}

#[tokio::test]
async fn bad_files_are_refused_with_the_pipeline_s_codes_and_limits_hold() {
    let (portal, stores) = portal(&[("PHOTOSYNC_WEB_UPLOADS_PER_HOUR", "2")]);
    let hr = actor("hr@contoso.com", true, false);
    // AVIF is refused by the pipeline's sniffing (HEIC itself is decoded).
    let mut avif = upload(Some("bob"));
    avif.bytes = Bytes::from_static(b"\0\0\0\x18ftypavif\0\0\0\0mif1avif\0\0\0\x08mdat");
    let e = portal.upload(&hr, avif).await.unwrap_err();
    assert_eq!(e.code(), "unsupported-format");
    assert!(e.to_string().contains("AVIF"), "{e}");
    let mut focus = upload(Some("bob"));
    focus.focus = Some("2,2".into());
    assert_eq!(
        portal.upload(&hr, focus).await.unwrap_err().code(),
        "invalid-focus"
    );
    // Both refused uploads counted: the third is over the limit.
    let e = portal.upload(&hr, upload(Some("bob"))).await.unwrap_err();
    assert_eq!(e.code(), "too-many-requests");
    assert!(names(&stores.photos, "web").await.is_empty());

    let preview = portal.preview(&hr, jpeg()).await.unwrap();
    assert_eq!(
        (
            preview.width,
            preview.height,
            preview.x,
            preview.y,
            preview.side
        ),
        (200, 300, 0, 15, 200)
    );
}
