//! Mapping files: the format, every bad line, conflicts, where files apply,
//! and reads by name.

use bytes::Bytes;

use super::*;
use crate::store::{BlobProperties, WriteMode};

fn name(s: &str) -> PhotoName {
    PhotoName::parse(s).unwrap()
}

fn parse(csv: &str) -> MappingFile {
    MappingFile::parse(&name("hr/mapping.csv"), csv.as_bytes()).unwrap()
}

fn user(file: &MappingFile, photo: &str) -> Option<String> {
    file.assignment(&name(photo)).map(|a| a.user.clone())
}

#[test]
fn rows_map_file_names_full_names_and_relative_names() {
    let file = parse(
        "\u{feff}User,File\nalice@contoso.com, IMG_0042.JPG\n\"o'brien@contoso.com\",hr/scan 7.png\nbob@contoso.com,new/b.jpg\n,\n",
    );
    assert_eq!(file.len(), 3);
    assert_eq!(
        user(&file, "hr/any/img_0042.jpg").as_deref(),
        Some("alice@contoso.com")
    );
    assert_eq!(
        user(&file, "HR/scan 7.png").as_deref(),
        Some("o'brien@contoso.com")
    );
    assert_eq!(
        user(&file, "hr/new/b.jpg").as_deref(),
        Some("bob@contoso.com"),
        "relative to the file's folder"
    );
    assert_eq!(user(&file, "hr/scan 8.png"), None);
    assert!(file.problem().is_none());
    assert!(is_mapping(&name("hr/Mapping.CSV")));
    assert!(!is_mapping(&name("hr/mapping.csv.bak")));
}

#[test]
fn semicolon_files_from_european_excel_are_read() {
    let file = parse(
        "file;user;focus\nIMG_1.jpg;alice@contoso.com;\"0.4,0.3\"\nIMG_2.jpg;bob@contoso.com;0.5;0.2\n",
    );
    assert_eq!(
        user(&file, "hr/IMG_1.jpg").as_deref(),
        Some("alice@contoso.com")
    );
    let a = file.assignment(&name("hr/IMG_1.jpg")).unwrap();
    assert_eq!(a.focus, Focus::new(0.4, 0.3));
    // `0.5;0.2` in a `;` file is two cells: the focus is `0.5`, which is not a point.
    assert_eq!(file.bad_lines.len(), 1, "{:?}", file.bad_lines);
    assert!(file.bad_lines[0].starts_with("line 3: focus"));
}

#[test]
fn every_bad_line_is_reported_and_the_good_rows_still_apply() {
    let file = parse("file,user\na.jpg,\n,b@contoso.com\nc.jpg,c@contoso.com\nd.jpg,\n");
    assert_eq!(file.len(), 1);
    assert_eq!(file.bad_lines.len(), 3, "{:?}", file.bad_lines);
    let problem = file.problem().unwrap();
    assert_eq!(problem.code, ProblemCode::InvalidMapping);
    for line in ["line 2", "line 3", "line 5"] {
        assert!(problem.message.contains(line), "{}", problem.message);
    }
    assert!(
        MappingFile::parse(&name("mapping.csv"), b"name,upn\na,b\n")
            .unwrap_err()
            .message
            .contains("`file` and `user`")
    );
}

#[test]
fn a_photo_mapped_to_two_users_is_a_conflict_and_neither_applies() {
    let file = parse(
        "file,user\nIMG_1.jpg,alice@contoso.com\nimg_1.JPG,bob@contoso.com\nIMG_2.jpg,c@contoso.com\nIMG_2.jpg,c@contoso.com\n",
    );
    assert_eq!(user(&file, "hr/IMG_1.jpg"), None);
    assert_eq!(
        user(&file, "hr/IMG_2.jpg").as_deref(),
        Some("c@contoso.com"),
        "a repeated identical row is fine"
    );
    let problem = file.problem().unwrap();
    assert_eq!(problem.code, ProblemCode::MappingConflict);
    assert!(
        problem.message.contains("line 2") && problem.message.contains("line 3"),
        "{}",
        problem.message
    );
    assert!(
        problem.message.contains("alice@contoso.com")
            && problem.message.contains("bob@contoso.com")
    );
}

#[test]
fn users_in_nfd_and_nfc_are_one_key() {
    let file = parse("file,user\na.jpg,Jose\u{301}@contoso.com\n");
    assert_eq!(
        user(&file, "hr/a.jpg").as_deref(),
        Some("jos\u{e9}@contoso.com")
    );
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let mut big = b"file,user\n".to_vec();
    big.resize(MAX_BYTES as usize + 1, b'x');
    let problem = MappingFile::parse(&name("mapping.csv"), &big).unwrap_err();
    assert_eq!(problem.code, ProblemCode::MappingTooLarge);
    let mut many = String::from("file,user\n");
    for i in 0..=MAX_ROWS {
        many.push_str(&format!("{i}.jpg,u{i}\n"));
    }
    assert_eq!(
        MappingFile::parse(&name("mapping.csv"), many.as_bytes())
            .unwrap_err()
            .code,
        ProblemCode::MappingTooLarge
    );
}

#[test]
fn files_apply_to_their_folder_and_below_nearest_first() {
    assert_eq!(
        chain(&name("hr/new/x.jpg")),
        ["hr/new/mapping.csv", "hr/mapping.csv", "mapping.csv"]
    );
    assert_eq!(chain(&name("x.jpg")), ["mapping.csv"]);
}

#[test]
fn rows_naming_no_photo_are_found() {
    let file = parse("file,user\na.jpg,a@x.com\nhr/b.jpg,b@x.com\nc.jpg,c@x.com\n");
    let names = [name("hr/a.jpg"), name("other/c.jpg"), name("hr/sub/x.jpg")];
    assert_eq!(file.rows_without_photo(names.iter()), ["c.jpg", "hr/b.jpg"]);
}

async fn put(store: &Store, name: &str, text: &str) {
    store
        .put(
            name,
            Bytes::from(text.to_owned()),
            &BlobProperties::default(),
            WriteMode::Overwrite,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_nearest_file_with_a_row_decides_and_files_are_read_by_name() {
    let store = Store::memory();
    put(
        &store,
        "mapping.csv",
        "file,user\nIMG_1.jpg,root@contoso.com\nIMG_2.jpg,root2@contoso.com\n",
    )
    .await;
    put(
        &store,
        "hr/mapping.csv",
        "file,user\nIMG_1.jpg,hr@contoso.com\n",
    )
    .await;
    put(
        &store,
        "other/mapping.csv",
        "file,user\nIMG_2.jpg,other@contoso.com\n",
    )
    .await;
    let mappings = Mappings::default();
    let who = |photo: &'static str| {
        let store = store.clone();
        let mappings = &mappings;
        async move {
            mappings
                .assignment(&store, &name(photo))
                .await
                .unwrap()
                .map(|a| a.user)
        }
    };
    assert_eq!(
        who("hr/new/IMG_1.jpg").await.as_deref(),
        Some("hr@contoso.com")
    );
    assert_eq!(
        who("hr/IMG_2.jpg").await.as_deref(),
        Some("root2@contoso.com"),
        "falls through to the root file"
    );
    assert_eq!(who("IMG_1.jpg").await.as_deref(), Some("root@contoso.com"));
    assert_eq!(who("hr/IMG_3.jpg").await, None);

    // A changed file is seen once invalidated (the trigger does this on upload).
    put(
        &store,
        "hr/mapping.csv",
        "file,user\nIMG_1.jpg,changed@contoso.com\n",
    )
    .await;
    mappings.invalidate("hr/mapping.csv");
    assert_eq!(
        who("hr/IMG_1.jpg").await.as_deref(),
        Some("changed@contoso.com")
    );
}

#[tokio::test]
async fn a_listing_loads_changed_files_and_forgets_deleted_ones() {
    let store = Store::memory();
    put(
        &store,
        "hr/mapping.csv",
        "file,user\nIMG_1.jpg,hr@contoso.com\n",
    )
    .await;
    let mappings = Mappings::default();
    let etag = store.head("hr/mapping.csv").await.unwrap().etag;
    let files = mappings
        .load_listed(&store, &[(name("hr/mapping.csv"), etag)])
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        mappings
            .assignment_cached(&name("hr/IMG_1.jpg"))
            .map(|a| a.user)
            .as_deref(),
        Some("hr@contoso.com")
    );
    mappings.load_listed(&store, &[]).await.unwrap();
    assert_eq!(mappings.assignment_cached(&name("hr/IMG_1.jpg")), None);
}
