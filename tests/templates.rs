//! The checked-in example workbooks are exactly what `lodestone template --example NAME`
//! writes today, and each passes `check`.

mod common;

use std::path::PathBuf;

use lodestone::examples::EXAMPLES;
use lodestone::excel::read::read_deal;

fn checked_in(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("templates")
        .join(format!("{name}.xlsx"))
}

/// Set LODESTONE_BLESS=1 to rewrite the checked-in templates instead of comparing them.
#[test]
fn regenerating_each_template_reproduces_the_checked_in_file() {
    let bless = std::env::var_os("LODESTONE_BLESS").is_some();
    for name in EXAMPLES {
        let fresh = common::example_bytes(name);
        let path = checked_in(name);
        if bless {
            std::fs::write(&path, &fresh).expect("write template");
            continue;
        }
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == fresh,
            "templates/{name}.xlsx differs from what `lodestone template --example {name}` writes \
             ({} bytes on disk, {} fresh). If the change is intended, refresh it with\n  \
             cargo run -- template --example {name} -o templates/{name}.xlsx\n\
             (or LODESTONE_BLESS=1 cargo test --test templates) and commit the file.",
            on_disk.len(),
            fresh.len()
        );
    }
}

#[test]
fn every_checked_in_template_passes_check() {
    for name in EXAMPLES {
        if let Err(e) = read_deal(&checked_in(name)) {
            panic!("templates/{name}.xlsx does not pass check:\n{e}");
        }
    }
}

#[test]
fn the_same_deal_gives_the_same_bytes_twice() {
    for name in EXAMPLES {
        assert!(
            common::example_bytes(name) == common::example_bytes(name),
            "{name}: two writes differ"
        );
    }
}
