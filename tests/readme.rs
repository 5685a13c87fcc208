//! The README's tables of the deal workbook are the schema's: regenerated here and compared.
//! Set LODESTONE_BLESS=1 to rewrite the README's generated section.

use lodestone::excel::schema::markdown_tables;

const BEGIN: &str = "<!-- BEGIN generated from src/excel/schema.rs by tests/readme.rs (LODESTONE_BLESS=1 cargo test --test readme) -->\n";
const END: &str = "<!-- END generated -->";

#[test]
fn the_readme_documents_every_sheet_as_the_schema_does() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no generated section (expected the markers {BEGIN:?} … {END:?})");
    };
    let fresh = format!("{BEGIN}\n{}", markdown_tables());
    let current = &readme[start..end];
    if current == fresh {
        return;
    }
    if std::env::var_os("LODESTONE_BLESS").is_some() {
        let updated = format!("{}{fresh}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README.md's workbook tables are stale; refresh them with\n  LODESTONE_BLESS=1 cargo test --test readme\nThe section should read:\n{fresh}"
    );
}
