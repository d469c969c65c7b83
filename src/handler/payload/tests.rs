//! Host bodies as the reference documents them, and the traps around them.

use super::*;
use serde_json::json;

fn blob_body(name: impl Into<Value>, data: Value) -> Value {
    json!({
        "Data": {"photo": data},
        "Metadata": {
            "Uri": "\"https://acct.blob.core.windows.net/photos/hr/new%20hires/alice%40contoso.com.jpg\"",
            "name": name.into(),
            "Properties": {"Length": 3, "ContentMD5": "x", "ContentType": "image/jpeg",
                           "ETag": "\"0x8DA6E28262505DD\"", "LastModified": "2026-11-20T10:26:34+00:00",
                           "Created": "2026-11-20T10:26:34+00:00", "BlobType": 2},
            "Metadata": {},
            "sys": {"MethodName": "PhotoUploaded", "UtcNow": "2026-11-20T10:26:43.03Z",
                    "RandGuid": "30d01e72-94e7-4d4f-906a-2ce51939bfcc"},
            "SomethingNew": {"the host": "may add keys"}
        }
    })
}

fn request(body: Value) -> InvocationRequest {
    parse_request(body.to_string().as_bytes()).unwrap()
}

#[test]
fn blob_trigger_body_decodes_name_bytes_and_properties() {
    let body = blob_body("\"hr/new hires/alice@contoso.com.jpg\"", json!("AQID"));
    let event = photo_event(&request(body), "photo", "photos").unwrap();
    assert_eq!(event.name, "hr/new hires/alice@contoso.com.jpg");
    assert_eq!(event.bytes.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(event.etag.as_deref(), Some("\"0x8DA6E28262505DD\""));
    assert_eq!(event.length, Some(3));
    assert_eq!(event.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(
        event.last_modified.unwrap().to_rfc3339(),
        "2026-11-20T10:26:34+00:00"
    );
}

#[test]
fn a_name_that_is_not_double_encoded_is_taken_as_is() {
    let body = blob_body("hr/bob.jpg", json!("AQID"));
    assert_eq!(
        photo_event(&request(body), "photo", "photos").unwrap().name,
        "hr/bob.jpg"
    );
}

#[test]
fn without_a_name_the_uri_is_decoded() {
    let mut body = blob_body("\"x\"", json!("AQID"));
    body["Metadata"].as_object_mut().unwrap().remove("name");
    let event = photo_event(&request(body), "photo", "photos").unwrap();
    assert_eq!(event.name, "hr/new hires/alice@contoso.com.jpg");
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
fn missing_or_null_bytes_mean_read_the_blob() {
    let event = photo_event(
        &request(blob_body("\"a.jpg\"", Value::Null)),
        "photo",
        "photos",
    )
    .unwrap();
    assert!(event.bytes.is_none());
}

#[test]
fn properties_sent_as_a_json_string_are_accepted() {
    let mut body = blob_body("\"a.jpg\"", json!("AQID"));
    body["Metadata"]["Properties"] = json!("{\"Length\": 3, \"ETag\": \"\\\"0x1\\\"\"}");
    let event = photo_event(&request(body), "photo", "photos").unwrap();
    assert_eq!(event.etag.as_deref(), Some("\"0x1\""));
}

#[test]
fn malformed_blob_bodies_get_a_one_line_reason() {
    let cases = [
        (
            blob_body("\"a.jpg\"", json!("not base64!!")),
            "Data.photo is not base64",
        ),
        (
            blob_body("\"a.jpg\"", json!(42)),
            "Data.photo must be a base64 string, not a number",
        ),
        (
            blob_body(7, json!("AQID")),
            "Metadata.name must be a string",
        ),
        (
            json!({"Data": {"photo": "AQID"}}),
            "neither `name` nor a usable `Uri`",
        ),
    ];
    for (body, expected) in cases {
        let error = photo_event(&request(body), "photo", "photos").unwrap_err();
        assert!(
            error.0.contains(expected),
            "{error} should contain {expected}"
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
    let bad_date = json!({"Data": {"timer": {"ScheduleStatus": {"Last": "yesterday"}}}});
    assert!(
        timer_tick(&request(bad_date), "timer")
            .unwrap_err()
            .0
            .starts_with("Data.timer:")
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
