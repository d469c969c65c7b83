//! Host bodies as the host really sends them (storage extension 5.x, the
//! capture in tests/fixtures), the legacy shape, and the traps around them.

use super::*;
use serde_json::json;

/// The real 5.x body (tests/fixtures/README.md says where it comes from),
/// with a name, a URI and bytes of our choosing.
fn v5_body(name: &str, data: Value) -> Value {
    let mut body: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/blob-trigger-storage-v5.json"
    ))
    .unwrap();
    body["Data"]["photo"] = data;
    body["Metadata"]["name"] = json!(serde_json::to_string(name).unwrap());
    body
}

/// The 2020-era shape (storage extension 4.x and before): string ETag,
/// `Length`, `Created`, enum names as numbers.
fn legacy_body(name: impl Into<Value>, data: Value) -> Value {
    json!({
        "Data": {"photo": data},
        "Metadata": {
            "Uri": "\"https://acct.blob.core.windows.net/photos/hr/new%20hires/alice%40contoso.com.jpg\"",
            "name": name.into(),
            "Properties": {"Length": 3, "ContentMD5": "x", "ContentType": "image/jpeg",
                           "ETag": "\"0x8DA6E28262505DD\"", "LastModified": "2026-11-20T10:26:34+00:00",
                           "Created": "2026-11-20T10:26:34+00:00", "BlobType": 2},
            "Metadata": {"photosync_focus": "0.5,0.3"},
            "sys": {"MethodName": "PhotoUploaded", "UtcNow": "2026-11-20T10:26:43.03Z",
                    "RandGuid": "30d01e72-94e7-4d4f-906a-2ce51939bfcc"},
            "SomethingNew": {"the host": "may add keys"}
        }
    })
}

fn request(body: Value) -> InvocationRequest<'static> {
    // The request borrows its body, as the handler's does.
    let body: &'static str = Box::leak(body.to_string().into_boxed_str());
    parse_request(body.as_bytes()).unwrap()
}

#[test]
fn the_real_v5_body_is_read_with_the_version_left_to_storage() {
    let event = photo_event(
        &request(v5_body("hr/alice@contoso.com.jpg", json!("AQID"))),
        "photo",
        "photos",
    )
    .unwrap();
    assert_eq!(event.name, "hr/alice@contoso.com.jpg");
    assert_eq!(event.etag, None, "`\"ETag\": {{}}` means not given");
    assert_eq!(
        event.bytes, None,
        "bytes and version are read together from storage"
    );
    assert_eq!(event.length, Some(48211), "ContentLength");
    assert_eq!(
        event.last_modified.unwrap().to_rfc3339(),
        "2026-11-20T10:26:34+00:00"
    );
    assert!(event.metadata.is_empty());
}

#[test]
fn the_v5_body_without_data_and_with_odd_property_types_still_works() {
    let mut body = v5_body("a.jpg", Value::Null);
    body["Data"].as_object_mut().unwrap().remove("photo");
    let props = &mut body["Metadata"]["Properties"];
    props["ContentLength"] = json!("12");
    props["LastModified"] = json!({"unexpected": true});
    props["ContentType"] = json!(7);
    props["Metadata"] = json!([1, 2]);
    let event = photo_event(&request(body), "photo", "photos").unwrap();
    assert_eq!(event.length, Some(12));
    assert_eq!(event.last_modified, None);
    assert!(event.bytes.is_none());
}

#[test]
fn the_legacy_body_decodes_name_bytes_version_and_metadata() {
    let body = legacy_body("\"hr/new hires/alice@contoso.com.jpg\"", json!("AQID"));
    let event = photo_event(&request(body), "photo", "photos").unwrap();
    assert_eq!(event.name, "hr/new hires/alice@contoso.com.jpg");
    assert_eq!(event.bytes.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(
        event.etag.as_ref().map(ETag::as_str),
        Some("0x8DA6E28262505DD")
    );
    assert_eq!(event.length, Some(3));
    assert_eq!(
        event.metadata.get("photosync_focus").map(String::as_str),
        Some("0.5,0.3")
    );
}

#[test]
fn a_name_that_is_not_double_encoded_is_taken_as_is() {
    let body = legacy_body("hr/bob.jpg", json!("AQID"));
    assert_eq!(
        photo_event(&request(body), "photo", "photos").unwrap().name,
        "hr/bob.jpg"
    );
}

#[test]
fn without_a_name_the_uri_is_decoded() {
    let mut body = legacy_body("\"x\"", json!("AQID"));
    body["Metadata"].as_object_mut().unwrap().remove("name");
    let event = photo_event(&request(body), "photo", "photos").unwrap();
    assert_eq!(event.name, "hr/new hires/alice@contoso.com.jpg");
    let mut v5 = v5_body("x", json!("AQID"));
    v5["Metadata"].as_object_mut().unwrap().remove("name");
    assert_eq!(
        photo_event(&request(v5), "photo", "photos").unwrap().name,
        "hr/alice@contoso.com.jpg"
    );
}

#[test]
fn azurite_uris_carry_the_account_before_the_container() {
    assert_eq!(
        name_from_uri(
            "http://127.0.0.1:10000/devstoreaccount1/photos/a%2Bb%20c.jpg",
            "photos"
        )
        .as_deref(),
        Some("a+b c.jpg")
    );
    assert_eq!(name_from_uri("http://h/other/a.jpg", "photos"), None);
}

#[test]
fn unusable_bytes_mean_read_the_blob_not_fail_the_invocation() {
    for data in [
        Value::Null,
        json!("not base64!!"),
        json!(42),
        json!({"a": 1}),
    ] {
        let event = photo_event(
            &request(legacy_body("\"a.jpg\"", data.clone())),
            "photo",
            "photos",
        )
        .unwrap();
        assert!(event.bytes.is_none(), "{data}");
        assert_eq!(event.name, "a.jpg");
    }
}

#[test]
fn properties_sent_as_a_json_string_are_accepted() {
    let mut body = legacy_body("\"a.jpg\"", json!("AQID"));
    body["Metadata"]["Properties"] = json!("{\"Length\": 3, \"ETag\": \"\\\"0x1\\\"\"}");
    let event = photo_event(&request(body), "photo", "photos").unwrap();
    assert_eq!(event.etag.as_ref().map(ETag::as_str), Some("0x1"));
}

#[test]
fn only_a_body_that_cannot_name_the_blob_is_refused() {
    let cases = [
        json!({"Data": {"photo": "AQID"}}),
        json!({"Data": {"photo": "AQID"}, "Metadata": {"name": 7, "Uri": 5}}),
    ];
    for body in cases {
        let error = photo_event(&request(body), "photo", "photos").unwrap_err();
        assert!(
            error.0.contains("neither `name` nor a usable `Uri`"),
            "{error}"
        );
        assert!(!error.0.contains('\n'));
    }
}

#[test]
fn bodies_that_are_not_invocations_are_refused() {
    for body in [&b"not json"[..], b"{}", b"{\"Data\": 5}", b""] {
        let error = parse_request(body).unwrap_err();
        assert!(error.0.starts_with("invalid invocation body"), "{error}");
    }
}

#[test]
fn timer_with_and_without_schedule_status() {
    let full = json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true},
        "ScheduleStatus": {"Last": "2026-11-20T10:15:00+00:00", "Next": "2026-11-20T11:15:00+00:00",
                           "LastUpdated": "2026-11-20T10:15:00+00:00"},
        "IsPastDue": true}},
        "Metadata": {"sys": {"MethodName": "Reconcile"}}});
    let tick = timer_tick(&request(full), "timer").unwrap();
    assert!(tick.is_past_due);
    assert_eq!(tick.last.unwrap().to_rfc3339(), "2026-11-20T10:15:00+00:00");
    assert_eq!(tick.next.unwrap().to_rfc3339(), "2026-11-20T11:15:00+00:00");

    let null = json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true},
        "ScheduleStatus": null, "IsPastDue": false}}, "Metadata": {}});
    let tick = timer_tick(&request(null), "timer").unwrap();
    assert!(!tick.is_past_due);
    assert!(tick.last.is_none() && tick.next.is_none());

    let odd =
        json!({"Data": {"timer": {"ScheduleStatus": {"Last": "yesterday"}, "IsPastDue": "no"}}});
    let tick = timer_tick(&request(odd), "timer").unwrap();
    assert!(tick.last.is_none() && !tick.is_past_due);
}

#[test]
fn malformed_timer_bodies_are_refused() {
    let missing = json!({"Data": {}, "Metadata": {}});
    assert!(
        timer_tick(&request(missing), "timer")
            .unwrap_err()
            .0
            .contains("Data.timer is missing")
    );
    let wrong = json!({"Data": {"timer": [1]}, "Metadata": {}});
    assert!(
        timer_tick(&request(wrong), "timer")
            .unwrap_err()
            .0
            .contains("must be an object")
    );
}

#[test]
fn the_answer_has_the_shape_the_host_expects() {
    let answer = serde_json::to_value(InvocationResponse::with_logs(vec!["hi".into()])).unwrap();
    assert_eq!(
        answer,
        json!({"Outputs": {}, "Logs": ["hi"], "ReturnValue": null})
    );
}
