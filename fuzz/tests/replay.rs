//! Replays every seed input and every past crash input of the fuzz targets as ordinary tests:
//! fuzz/seeds/<target>/ and fuzz/regressions/<target>/.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            eprintln!("replaying {}", path.display());
            run(&data);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs for {target}");
}

#[test]
fn model_ops_inputs() {
    replay("model_ops", bough_fuzz::model_ops::run);
}

#[test]
fn crash_ops_inputs() {
    replay("crash_ops", bough_fuzz::crash_ops::run);
}

#[test]
fn raw_bytes_inputs() {
    replay("raw_bytes", bough_fuzz::raw_bytes::run);
}
