//! `photosync preview DIR --out FILE.html`, the real binary over the
//! committed samples plus a photo with a hostile name: one self-contained
//! page with every crop, nothing uploaded, nothing loaded from elsewhere.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

use crate::helpers::{BINARY, temp_dir};

fn run(dir: &Path, out: &Path) -> (Option<i32>, String, String) {
    let output = Command::new(BINARY)
        .arg("preview")
        .arg(dir)
        .arg("--out")
        .arg(out)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn preview_shows_every_crop_on_one_self_contained_page() {
    let root = temp_dir();
    let photos = root.path().join("photos");
    std::fs::create_dir_all(photos.join("team")).unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/photos");
    for name in [
        "adele.vance@contoso.com.jpg",
        "alex.wilber@contoso.com.jpg",
        "nestor.wilke@contoso.com.heic",
        "pradeep.gupta@contoso.com.jpg",
        "team/IMG_0042.jpg",
        "README.txt",
    ] {
        std::fs::copy(samples.join(name), photos.join(name)).unwrap();
    }
    // A name that would inject markup if it were not escaped.
    let hostile = "<img src=x onerror=alert(1)>\"'.jpg";
    std::fs::copy(
        samples.join("alex.wilber@contoso.com.jpg"),
        photos.join(hostile),
    )
    .unwrap();
    let page_path = root.path().join("crops.html");

    let (code, stdout, stderr) = run(&photos, &page_path);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("5 photos shown, 1 with warnings, 1 could not be rendered, 1 other files"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&page_path).unwrap();

    // Self-contained: a CSP that allows only inline data, no script at all,
    // no URL to anywhere.
    assert!(page.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
    ));
    assert!(!page.contains("<script") && !page.contains("<img src=x"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;.jpg"));
    for attr in ["src=\"", "href=\""] {
        for (i, _) in page.match_indices(attr) {
            let value = &page[i + attr.len()..];
            assert!(
                value.starts_with("data:image/jpeg;base64,"),
                "{attr}{}",
                &value[..40]
            );
        }
    }
    assert!(!page.contains("http://") && !page.contains("https://"));

    // Each photo has its card with the square drawn; the team photo warns.
    for name in [
        "adele.vance@contoso.com.jpg",
        "nestor.wilke@contoso.com.heic",
        "team/IMG_0042.jpg",
    ] {
        let card = page
            .find(&format!("<h2>{name}</h2>"))
            .unwrap_or_else(|| panic!("{name}"));
        let rest = &page[card..];
        let end = rest.find("</section>").unwrap();
        assert!(rest[..end].contains("class=\"square\""), "{name}");
        assert!(rest[..end].contains("class=\"face\""), "{name}: face box");
    }
    let team = &page[page.find("<h2>team/IMG_0042.jpg</h2>").unwrap()..];
    let team = &team[..team.find("</section>").unwrap()];
    assert!(team.contains("several-faces"), "{team}");
    // The damaged photo says why; the text file is listed, not carded.
    assert!(page.contains("corrupt-image"));
    assert!(page.contains("<li><b>README.txt</b>"));

    // The 96 px results are real JPEGs of that size.
    let marker = "class=\"result\" width=\"96\" height=\"96\"";
    let at = page.find(marker).expect("a 96 px result");
    let data = &page[at..];
    let start = data.find("base64,").unwrap() + 7;
    let end = start + data[start..].find('"').unwrap();
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(&data[start..end])
        .unwrap();
    let image = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((image.width(), image.height()), (96, 96));

    // Nothing was written next to the photos.
    assert!(!photos.join("thumbnails").exists());
}

#[test]
fn preview_of_a_missing_folder_is_a_usage_error() {
    let root = temp_dir();
    let (code, _, stderr) = run(&root.path().join("nope"), &root.path().join("p.html"));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is not a folder"), "{stderr}");
}
