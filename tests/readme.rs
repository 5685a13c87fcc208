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

/// Issue 13: every convention a modeller could take either way is written down, with its
/// formula, in the section the template's About sheet points to.
#[test]
fn the_readme_writes_down_every_convention() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find("## How Lodestone computes")
        .expect("a section 'How Lodestone computes'");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let section = section.split_whitespace().collect::<Vec<_>>().join(" ");
    for topic in [
        "Risked NPV",
        "production tax credit",
        "Floor support is taxable income",
        "outside the royalty base",
        "The initial DSRA",
        "The commitment fee",
        "Interest is deducted when accrued",
        "Pro rata within a rank",
        "DSCR",
        "including arrears",
        "Trapped cash",
        "horizon's last year",
        "loss %",
        "loss given default",
        "Completion support",
        "Depreciation per vintage",
        "Books exact to the cent",
        "several IRRs",
        "An offtaker's value",
        "LLCR",
        "Net outlay",
        "Subsidy cost of a loan",
        "rate schedule",
        "MIRR",
        "Transfer pricing",
        "output ÷ recovery",
        "The transfer is not a ledger flow",
        "years before it are deflated",
        "not escalated",
        "Offtake uptake",
        "collar applies to the discounted market price",
        "Tonnes secured",
        "opex multiplier scales",
        "first-loss solver",
        "Several facilities may make one product",
        "shared between the plants it feeds",
        "A delay lengthens one phase",
        "Rows of one scenario combine",
    ] {
        assert!(section.contains(topic), "the section lacks {topic:?}");
    }
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/excel/template.rs"),
    )
    .expect("template.rs");
    assert!(
        template.contains("README's section \\\"How Lodestone computes\\\""),
        "the About sheet points to the section"
    );
}
