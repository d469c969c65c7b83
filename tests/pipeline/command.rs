//! `photosync thumbnail`: files in, one folder of sizes per file out.

use photosync::commands::thumbnail::{ThumbnailJob, run};
use photosync::pipeline::RenderOptions;

use crate::corpus;

#[test]
fn renders_each_file_into_its_own_folder_and_counts_failures() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("portrait.jpg");
    std::fs::write(&good, corpus::jpeg(&corpus::photo(300, 400), 90, false)).unwrap();
    let pdf = dir.path().join("invoice.jpg");
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    let missing = dir.path().join("missing.png");
    let out = dir.path().join("out");
    let job = ThumbnailJob {
        files: vec![good, pdf, missing],
        out: out.clone(),
        options: RenderOptions {
            sizes: vec![64, 256],
            ..RenderOptions::default()
        },
    };
    assert_eq!(run(&job).unwrap(), 2);
    let mut written: Vec<String> = std::fs::read_dir(out.join("portrait"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["256x256.jpg", "64x64.jpg"]);
    assert!(!out.join("invoice").exists());
}
